"""Message templates rendered in Jinja2's sandbox.

The sandbox stops a template from reaching Python internals; StrictUndefined
turns a missing field into an error, so a message never goes out half-filled.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_html_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


class RenderError(Exception):
    """The template could not be rendered."""


@lru_cache(maxsize=4096)
def _compile(source: str, html: bool) -> tuple[Any, dict[str, Any]]:
    template = (_html_env if html else _env).from_string(source)
    return template, dict(template.globals)


def check(source: str) -> str | None:
    """Return a syntax error message, or None if the template compiles."""
    try:
        _compile(source, False)
    except TemplateError as exc:
        return f"template syntax error: {exc}"
    return None


def render(source: str, variables: dict[str, Any], *, html: bool = False) -> str:
    if "{" not in source:  # plain text: skip the template machinery on the hot path
        return source
    try:
        template, globals_ = _compile(source, html)
        # Template.render minus its defensive copy of the variables: a shared
        # context is read-only to the (immutable, sandboxed) template.
        context = template.new_context({**globals_, **variables}, shared=True)
        return str(template.environment.concat(template.root_render_func(context)))
    except TemplateError as exc:
        raise RenderError(f"template error: {exc}") from exc
    except Exception as exc:  # sandbox violations and errors inside filters
        raise RenderError(f"template error: {type(exc).__name__}: {exc}") from exc
