"""Message templates: bombs are refused (at save when constant, at render otherwise),
loops and output are bounded, and the compiled-template cache is bounded by size."""

from __future__ import annotations

from typing import Any

import pytest

from scenaria.clock import FakeClock
from scenaria.model import templating
from scenaria.model.profiles import ProfileDatabase, SubscriptionStatus
from scenaria.model.templating import RenderError, check, render
from scenaria.services.app import App
from tests.unit.test_nodes import EMAIL_EDGES, EXITS, email, one_person, outbox, path, run_one

PROFILE = {"profile": {"first_name": "Zoë", "points": 12}, "items": ["a", "b", "c"]}

CONSTANT_BOMBS = [
    pytest.param("{{ (9 ** (9 ** 9)) % 7 }}", "9 ** 387420489", id="power"),
    pytest.param("{{ 'x' * 300000000 }}", "repetition", id="string-repetition"),
    pytest.param("{{ [0] * 300000000 }}", "repetition", id="list-repetition"),
    pytest.param("{{ '%0999999999d' % 1 }}", "format", id="percent-width"),
    pytest.param("Hi {{ profile.first_name }} {{ 2 ** 100000 }}", "bits", id="inside-text"),
]


@pytest.mark.parametrize(("source", "reason"), CONSTANT_BOMBS)
def test_a_constant_bomb_is_refused_at_check(source: str, reason: str) -> None:
    found = templating.problem(source)
    assert found is not None
    code, message = found
    assert code == "template_limit"
    assert message.startswith("template refused: line 1:") and reason in message


@pytest.mark.parametrize(("source", "reason"), CONSTANT_BOMBS)
def test_a_constant_bomb_is_refused_at_render(source: str, reason: str) -> None:
    with pytest.raises(RenderError, match="template refused") as raised:
        render(source, PROFILE)
    assert reason in str(raised.value)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        pytest.param("{{ 'x'|center(1000000000) }}", "center", id="center-filter"),
        pytest.param("{{ 'x'|indent(1000000000, true) }}", "indent", id="indent-filter"),
        pytest.param("{{ 'x'.ljust(1000000000) }}", "ljust", id="ljust-method"),
        pytest.param("{{ 'x'.zfill(1000000000) }}", "zfill", id="zfill-method"),
        pytest.param("{{ '{:>999999999}'.format(1) }}", "format spec", id="format-width"),
        pytest.param("{{ '%*d' % (999999999, 1) }}", "'*' width", id="percent-star"),
        pytest.param("{{ ('x' * 1000)|replace('x', 'y' * 2000) }}", "replacement", id="replace"),
        pytest.param("{{ ('x' * 1000).replace('', 'y' * 1000) }}", "replacement", id="replace-m"),
        pytest.param("{{ ['x' * 1000] * 999 }}", "repetition", id="nested-repetition"),
        pytest.param("{{ ([1] * 1000)|join('y' * 1000) }}", "joined", id="join-filter"),
        pytest.param("{{ ('y' * 1000).join([1] * 1000) }}", "joined", id="join-method"),
        pytest.param("{{ 'x'|batch(1000000000, 'y')|list }}", "batches", id="batch-fill"),
        pytest.param(
            "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
            "",
            id="doubling-with-tilde",
        ),
        pytest.param(
            "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
            "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
            "",
            id="doubling-with-plus",
        ),
        pytest.param(
            "{% set ns = namespace(n=3) %}{% for i in range(64) %}"
            "{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n % 7 }}",
            "bits",
            id="squaring",
        ),
        pytest.param(
            "{% set a = [items] * 100000 %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}"
            "{% set c = [b, b, b, b, b, b, b, b, b, b] %}{{ c }}",
            "printed value",
            id="nested-shared-lists",
        ),
    ],
)
def test_growth_that_depends_on_arguments_is_refused_at_render(source: str, reason: str) -> None:
    with pytest.raises(RenderError, match="template refused") as raised:
        render(source, PROFILE)
    assert reason in str(raised.value)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            id="nested-ranges",
        ),
        pytest.param(
            "{% set xs = range(100000)|list %}{% for a in xs %}{% for b in xs %}"
            "{% endfor %}{% endfor %}",
            id="nested-lists",
        ),
        pytest.param(
            "{% set xs = range(100000)|list %}{% for a in xs %}{% for b in xs if b > a %}"
            "{% endfor %}{% endfor %}",
            id="filtered-loop",
        ),
        pytest.param(
            "{% set xs = range(3000)|list %}{% for a in xs %}{{ a in xs }}{% endfor %}",
            id="membership-scans",
        ),
        pytest.param(
            "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}"
            "{{ m(40) }}",
            id="doubling-macro",
        ),
        pytest.param(
            "{% for x in [[1, 1], [1, 1]] recursive %}{{ loop([[1, 1], [1, 1]]) }}{% endfor %}",
            id="recursive-loop",
        ),
    ],
)
def test_unbounded_work_is_stopped_by_the_budget(source: str) -> None:
    with pytest.raises(RenderError) as raised:
        render(source, PROFILE)
    assert "steps of work" in str(raised.value) or "RecursionError" in str(raised.value)


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% for i in range(100) %}{{ 'x' * 20000 }}{% endfor %}",
        "Hi {{ profile.first_name }}{% for i in range(30) %}" + "x" * 50_000 + "{% endfor %}",
    ],
)
def test_a_template_that_fails_without_any_data_is_refused_at_check(source: str) -> None:
    found = templating.problem(source)
    assert found is not None and found[0] == "template_limit"
    assert found[1].startswith("template refused: the ")


def test_the_check_leaves_data_dependent_errors_to_the_send() -> None:
    assert check("{{ profile.points + 1 }} {% for x in profile.tags %}{{ x }}{% endfor %}") is None


def test_loops_within_the_budget_run() -> None:
    source = "{% for i in range(1000) %}{% for j in items %}{{ j }}{% endfor %}{% endfor %}"
    assert render(source, PROFILE) == "abc" * 1000


def test_output_is_capped() -> None:
    chunk = "x" * 50_000
    source = "{% for i in range(30) %}" + chunk + "{% endfor %}"
    with pytest.raises(RenderError, match="rendered text exceeds 1000000 characters"):
        render(source, PROFILE)
    assert len(render("{% for i in range(19) %}" + chunk + "{% endfor %}", PROFILE)) == 950_000


def test_a_block_set_buffer_is_capped_too() -> None:
    chunk = "x" * 50_000
    source = "{% set big %}{% for i in range(30) %}" + chunk + "{% endfor %}{% endset %}ok"
    with pytest.raises(RenderError, match="rendered text exceeds"):
        render(source, PROFILE)


def test_an_over_long_source_is_refused() -> None:
    source = "{{ 1 }}" + "x" * templating.MAX_SOURCE
    assert templating.problem(source) == (
        "template_limit",
        f"template refused: the template is longer than {templating.MAX_SOURCE} characters",
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hi {{ profile.first_name or 'friend' }}!", "Hi Zoë!"),
        ("{{ profile.points * 2 + 1 }} {{ 2 ** 10 }} {{ 7 % 3 }} {{ 'ab' * 2 }}", "25 1024 1 abab"),
        (
            "{{ '%s-%03d'|format('a', 7) }} {{ '%.2f' % 2.5 }} {{ '{}!'.format(5) }}",
            "a-007 2.50 5!",
        ),
        ("{{ items|join(', ') }} {{ items|length }} {{ ','.join(items) }}", "a, b, c 3 a,b,c"),
        (
            "{% for x in items if x != 'b' %}{{ loop.index }}/{{ loop.length }} {% endfor %}",
            "1/2 2/2 ",
        ),
        (
            "{{ 'x'|center(5) }}|{{ 'ab'|replace('a', 'xyz') }}|{{ items|tojson }}",
            '  x  |xyzb|["a", "b", "c"]',
        ),
        ("{% macro hi(n) %}Hi {{ n }}{% endmacro %}{{ hi(profile.first_name) }}", "Hi Zoë"),
        (
            "{% for t in [{'n': 1, 'c': [{'n': 2, 'c': []}]}] recursive %}"
            "{{ t.n }}{{ loop(t.c) }}{% endfor %}",
            "12",
        ),
        (
            "{{ 'a' in items }} {{ 3 is odd }} {{ items|sort|last }} {{ (items ~ '')[:2] }}",
            "True True c ['",
        ),
        ("{{ range(3)|list }} {{ [1] + [2] }} {{ 'é' ~ 1 }}", "[0, 1, 2] [1, 2] é1"),
    ],
)
def test_ordinary_templates_render_as_before(source: str, expected: str) -> None:
    assert check(source) is None
    assert render(source, PROFILE) == expected


def test_html_templates_still_escape() -> None:
    assert render("<p>{{ name }}</p>", {"name": "<b>&"}, html=True) == "<p>&lt;b&gt;&amp;</p>"


def test_a_template_failing_the_sandbox_is_still_refused() -> None:
    with pytest.raises(RenderError, match="unsafe"):
        render("{{ ''.__class__.__mro__ }}", {})


def test_the_compiled_cache_is_bounded_by_source_size(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = templating._Cache(max_chars=1_000_000)
    monkeypatch.setattr(templating, "_cache", cache)
    for i in range(40):
        render(f"{{{{ {i} }}}}" + "x" * 100_000, {})
    assert cache.chars <= 1_000_000 and len(cache) == 9
    assert render("{{ 39 }}" + "x" * 100_000, {}).startswith("39x")


def test_templates_that_fail_to_compile_are_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = templating._Cache(max_chars=1_000_000)
    monkeypatch.setattr(templating, "_cache", cache)
    for source in ["{{ oops", "{% for %}", "{{ 1 }}" + "x" * templating.MAX_SOURCE]:
        assert check(source) is not None
    assert len(cache) == 0 and cache.chars == 0


def test_templates_refused_at_check_are_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = templating._Cache(max_chars=1_000_000)
    monkeypatch.setattr(templating, "_cache", cache)
    assert check("{{ 'x' * 300000000 }}") is not None
    assert check("{% for i in range(100000) %}{% for j in range(100) %}{% endfor %}{% endfor %}")
    assert len(cache) == 0 and cache.chars == 0
    assert check("Hi {{ profile.first_name }}") is None
    assert len(cache) == 2  # the template and its probe


def test_a_loop_bomb_fails_the_message_with_the_reason(
    app: App, clock: FakeClock, db: ProfileDatabase
) -> None:
    pid = one_person(app, db.id, email_status=SubscriptionStatus.SUBSCRIBED)
    # only with data, so the check at save cannot see it
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    bomb = "{% if profile.email %}" + loops + "{% endif %}"
    task: dict[str, Any] = run_one(
        app, clock, db.id, pid, [email("mail", text=bomb), *EXITS], EMAIL_EDGES
    )
    assert path(task) == [("default", "next"), ("mail", "error"), ("failed", "exit")]
    assert "steps of work" in task["data"]["last_error"]["message"]
    assert outbox(app, task["task_id"]) == []


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("{{ " + " ~ ".join(["'a'"] * 10_000) + " }}", id="long-concatenation"),
        pytest.param("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", id="deep-parentheses"),
    ],
)
def test_a_template_too_costly_to_compile_is_refused(source: str) -> None:
    assert templating.problem(source) == (
        "template_limit",
        f"template refused: the template has more than {templating.MAX_TOKENS} expression tokens",
    )


def test_expressions_nested_too_deeply_are_a_problem_not_a_crash() -> None:
    source = "{{ " + "(" * 1000 + "1" + ")" * 1000 + " }}"
    assert templating.problem(source) == (
        "template_syntax",
        "template syntax error: expressions nested too deeply",
    )
    with pytest.raises(RenderError, match="RecursionError"):
        render(source, {})


def test_a_markup_method_is_checked_too() -> None:
    with pytest.raises(RenderError, match="center"):
        render("{{ ('x'|safe).center(1000000000) }}", {})
