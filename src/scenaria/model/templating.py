"""Message templates rendered in a limited Jinja2 sandbox.

The sandbox stops a template from reaching Python internals and from exhausting
the machine (``template_limits`` holds the limits, ``template_sandbox`` applies
them); StrictUndefined turns a missing field into an error, so a message never
goes out half-filled.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, TemplateError

from scenaria.model.template_limits import (
    MAX_OUTPUT,
    Budget,
    TemplateLimitError,
    current_budget,
)
from scenaria.model.template_sandbox import LimitedEnvironment, bounded_concat, constant_problem

MAX_SOURCE = 1_000_000
"""Characters of one template's source."""
MAX_TOKENS = 5_000
"""Expression tokens (names, operators, literals) of one template: Jinja's compiler is
slower than linear in them (a chain of 10,000 ``~`` takes seconds); text is free."""
_FREE_TOKENS = frozenset({"data", "whitespace"})
CACHE_CHARS = 16_000_000
"""Source characters of the compiled templates kept; compiled code grows with its
source (nothing is folded into large constants), so this bounds the cache's memory."""

_ENVIRONMENTS = {
    "text": LimitedEnvironment(undefined=StrictUndefined, autoescape=False),
    "html": LimitedEnvironment(undefined=StrictUndefined, autoescape=True),
    # At save there is no profile: every variable is an empty, chainable undefined.
    "probe": LimitedEnvironment(undefined=ChainableUndefined, autoescape=False),
}


class RenderError(Exception):
    """The template could not be rendered."""


class _Cache:
    """Compiled templates, least recently used dropped first, bounded by source size."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.chars = 0
        self._items: OrderedDict[tuple[str, str], tuple[Any, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple[str, str]) -> tuple[Any, dict[str, Any]] | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple[str, str], item: tuple[Any, dict[str, Any]]) -> None:
        if len(key[0]) > self.max_chars:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = item
            self.chars += len(key[0])
            while self.chars > self.max_chars:
                (source, _), _ = self._items.popitem(last=False)
                self.chars -= len(source)

    def discard(self, key: tuple[str, str]) -> None:
        with self._lock:
            if self._items.pop(key, None) is not None:
                self.chars -= len(key[0])

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.chars = 0


_cache = _Cache(CACHE_CHARS)


def _compile(source: str, kind: str) -> tuple[Any, dict[str, Any]]:
    """The compiled template; only a template that compiled is cached."""
    key = (source, kind)
    item = _cache.get(key)
    if item is None:
        if len(source) > MAX_SOURCE:
            raise TemplateLimitError(f"the template is longer than {MAX_SOURCE} characters")
        env = _ENVIRONMENTS[kind]
        tokens = 0
        for _, token, _ in env.lex(source):  # stops at the first token too many
            if token not in _FREE_TOKENS:
                tokens += 1
                if tokens > MAX_TOKENS:
                    raise TemplateLimitError(
                        f"the template has more than {MAX_TOKENS} expression tokens"
                    )
        template = env.from_string(source)
        item = (template, dict(template.globals))
        _cache.put(key, item)
    return item


def problem(source: str) -> tuple[str, str] | None:
    """``(code, message)`` saying why the template cannot be used, or None: a syntax
    error (``template_syntax``) or a limit it breaks whatever the data (``template_limit``)."""
    found = _problem(source)
    if found is not None:  # it will not be sent: keep nothing of it
        _cache.discard((source, "text"))
        _cache.discard((source, "probe"))
    return found


def _problem(source: str) -> tuple[str, str] | None:
    try:
        _compile(source, "text")
        # Parsing again is cheap (linear in the source) and finds, at save, the
        # constant bombs (``9 ** 9 ** 9``) in any branch.
        limit = constant_problem(_ENVIRONMENTS["text"].parse(source))
        if limit is None:
            limit = _probe(source)
    except TemplateLimitError as exc:
        return "template_limit", f"template refused: {exc}"
    except TemplateError as exc:
        return "template_syntax", f"template syntax error: {exc}"
    except RecursionError:
        return "template_syntax", "template syntax error: expressions nested too deeply"
    return ("template_limit", f"template refused: {limit}") if limit else None


def _probe(source: str) -> str | None:
    """The limit a render with no data reaches (loops over constants), if any: such a
    template would fail every send. Other errors are the data's business, not reported."""
    try:
        _run(source, "probe", {})
    except TemplateLimitError as exc:
        return str(exc)
    except Exception:  # an empty profile may well make a template fail
        pass
    return None


def _run(source: str, kind: str, variables: dict[str, Any]) -> str:
    template, globals_ = _compile(source, kind)
    # Template.render minus its defensive copy of the variables: a shared
    # context is read-only to the (immutable, sandboxed) template.
    context = template.new_context({**globals_, **variables}, shared=True)
    token = current_budget.set(Budget())
    try:
        return bounded_concat(template.root_render_func(context))
    finally:
        current_budget.reset(token)


def check(source: str) -> str | None:
    """Return why the template cannot be used, or None if it compiles within the limits."""
    found = problem(source)
    return found[1] if found else None


def render(source: str, variables: dict[str, Any], *, html: bool = False) -> str:
    """The rendered text; any error, a limit reached included, is a RenderError."""
    if "{" not in source:  # plain text: skip the template machinery on the hot path
        return source
    try:
        return _run(source, "html" if html else "text", variables)
    except TemplateLimitError as exc:
        raise RenderError(f"template refused: {exc}") from exc
    except TemplateError as exc:
        raise RenderError(f"template error: {exc}") from exc
    except Exception as exc:  # errors inside filters, MemoryError, RecursionError
        raise RenderError(f"template error: {type(exc).__name__}: {exc}") from exc


__all__ = ["MAX_OUTPUT", "MAX_SOURCE", "RenderError", "check", "problem", "render"]
