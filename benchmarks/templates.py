"""Template costs: rendering the welcome example's templates, and how fast bombs are refused.

    .venv/bin/python benchmarks/templates.py

Prints microseconds per render of each templated field of examples/welcome.yaml
(the limited sandbox of issue 19.2/20.4: work budget, size checks, output cap), then
the time ``check`` (at save) and ``render`` (at send) take to refuse each bomb.
"""

from __future__ import annotations

import time
import timeit
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from scenaria.model.templating import RenderError, check, render

WELCOME = Path(__file__).resolve().parent.parent / "examples" / "welcome.yaml"
VARIABLES = {
    "profile": {"first_name": "Ann", "email": "ann@example.com", "phone": "+33600000000"},
    "promo_code": "W1",
    "api_content": {},
    "scenario": {"name": "Welcome"},
}
BOMBS = {
    "power": "{{ (9 ** (9 ** 9)) % 7 }}",
    "repetition": "{{ 'x' * 300000000 }}",
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}"
    "{% endfor %}{% endfor %}",
    "doubling macro": "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}"
    "{% endmacro %}{{ m(40) }}",
    "output": "{% for i in range(30) %}" + "x" * 50_000 + "{% endfor %}",
    "long chain": "{{ " + " ~ ".join(["'a'"] * 10_000) + " }}",
}


def templates() -> list[tuple[str, str, bool]]:
    found = []
    for node in yaml.safe_load(WELCOME.read_text())["nodes"]:
        for key, value in (node.get("settings") or {}).items():
            if isinstance(value, str) and "{" in value:
                found.append((f"{node['id']}.{key}", value, key == "html"))
    return found


_PLAIN = {
    html: ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=html)
    for html in (False, True)
}


def plain_render(source: str, html: bool) -> Any:
    """The baseline: Jinja's sandbox as it was before the limits, rendered the same way."""
    template = _PLAIN[html].from_string(source)
    globals_ = dict(template.globals)

    def run() -> str:
        context = template.new_context({**globals_, **VARIABLES}, shared=True)
        return str(template.environment.concat(template.root_render_func(context)))

    return run


def timed(call: Any) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        outcome = call()
    except RenderError as exc:
        outcome = str(exc)
    return (time.perf_counter() - start) * 1000, str(outcome)[:70]


def main() -> None:
    print("| template | µs per render | plain sandbox (µs) | ratio |\n|---|---|---|---|")
    for name, source, html in templates():
        limited = min(
            timeit.repeat(lambda: render(source, VARIABLES, html=html), number=5000, repeat=5)  # noqa: B023
        )
        plain = min(timeit.repeat(plain_render(source, html), number=5000, repeat=5))
        print(f"| {name} | {limited * 200:.1f} | {plain * 200:.1f} | {limited / plain:.2f} |")
    print("\n| bomb | check at save (ms) | render at send (ms) | reason |\n|---|---|---|---|")
    for name, source in BOMBS.items():
        check_ms, reason = timed(lambda: check(source))  # noqa: B023
        render_ms, _ = timed(lambda: render(source + " ", {}))  # noqa: B023
        print(f"| {name} | {check_ms:.1f} | {render_ms:.1f} | {reason} |")


if __name__ == "__main__":
    main()
