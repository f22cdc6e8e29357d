"""Limits on what a template may build and do, and the checks that enforce them.

A check runs *before* the operation it guards (``'x' * 10**9`` would allocate a
gigabyte before any check after it), estimating the result's size from the
arguments; ``checked`` measures a value afterwards and charges its size to the
render's work budget. ``template_sandbox`` applies them to every operation.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from jinja2.exceptions import SecurityError

MAX_VALUE = 1_000_000
"""Characters (or items, nested ones counted) one value may hold."""
MAX_INT_BITS = 4096
"""Bits an integer may hold (about 1,200 decimal digits)."""
MAX_OUTPUT = 1_000_000
"""Characters a rendered message (or any buffer inside it) may hold."""
MAX_WORK = 2_000_000
"""Work units of one render: a loop step, filter or test costs one, a call (of a macro,
a method) ``CALL_UNITS``, plus the size of the values each handles; 2M units take
about half a second."""
CALL_UNITS = 50
"""A call costs about fifty loop steps: a macro call takes microseconds, more when nested deep."""
MAX_SECONDS = 5.0
"""Backstop for work the units do not see (a C-level operation on a large value)."""
_CHECK_CLOCK_EVERY = 4096

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d*)(?:\.(\*|\d*))?")


class TemplateLimitError(SecurityError):
    """The template exceeds a limit on the size of its values or the work it does."""


class Budget:
    """The work one render may still do."""

    __slots__ = ("_deadline", "_next_clock_check", "left")

    def __init__(self, work: int = MAX_WORK, seconds: float = MAX_SECONDS) -> None:
        self.left = work
        # An operational guard, not domain time: the engine's Clock says what time
        # it is in a journey; this only stops one render from holding a worker.
        self._deadline = time.monotonic() + seconds
        self._next_clock_check = work - _CHECK_CLOCK_EVERY

    def spend(self, units: int) -> None:
        self.left -= units
        if self.left < 0:
            raise TemplateLimitError(
                f"the template does more than {MAX_WORK} steps of work "
                "(loop iterations, calls, filters)"
            )
        if self.left <= self._next_clock_check:
            self._next_clock_check = self.left - _CHECK_CLOCK_EVERY
            if time.monotonic() > self._deadline:
                raise TemplateLimitError(f"the template takes longer than {MAX_SECONDS:g} s")


current_budget: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


def spend(units: int) -> None:
    current = current_budget.get()
    if current is not None:  # outside a render (compile-time folding) only sizes are checked
        current.spend(units)


def size(value: Any, limit: int = MAX_VALUE) -> int:
    """Characters and items in ``value``, nested containers counted in full (as
    ``str()`` would write them, shared ones once per reference), stopping past ``limit``."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset):
            total += 1 + len(item)
            if total <= limit:
                stack.extend(item)
        elif isinstance(item, dict):
            total += 1 + 2 * len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, range):
            try:
                total += len(item)
            except OverflowError:
                total += limit + 1
        else:
            total += 1
        if total > limit:
            return total
    return total


def refuse(what: str) -> TemplateLimitError:
    return TemplateLimitError(f"{what} would exceed {MAX_VALUE} characters")


def checked(value: Any, what: str = "a value") -> Any:
    """``value`` if it is within the limits (charging its size), else refuse it."""
    kind = type(value)
    if kind is str or isinstance(value, str):  # the common case (Markup too), first
        n = len(value)
    elif kind is bool or kind is float or value is None:
        return value
    elif isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise TemplateLimitError(f"{what} would exceed {MAX_INT_BITS} bits")
        return value
    else:
        n = size(value)
    current = current_budget.get()
    if current is not None:
        current.spend(n)
    if n > MAX_VALUE:
        raise refuse(what)
    return value


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and width > MAX_VALUE:
        raise refuse(what)


def check_percent(fmt: str, args: Any) -> None:
    for spec in _PERCENT_SPEC.finditer(fmt):
        for number in spec.groups():
            if number == "*":
                raise TemplateLimitError("a '*' width in a % format is not allowed")
            if number and int(number) > MAX_VALUE:
                raise refuse(f"the format {spec.group(0)!r}")
    checked(args, "the format's arguments")


def check_format_spec(fmt: str) -> None:
    """``str.format`` widths: ``'{:>999999999}'`` would allocate before any check."""
    for _, _, spec, _ in string.Formatter().parse(fmt):
        if not spec:
            continue
        if "{" in spec:
            raise TemplateLimitError("a computed width in a format is not allowed")
        for number in re.findall(r"\d+", spec):
            if int(number) > MAX_VALUE:
                raise refuse(f"the format spec {spec!r}")


def _check_replace(text: str, old: Any, new: Any, count: Any) -> None:
    if not isinstance(old, str) or not isinstance(new, str) or len(new) <= len(old):
        return
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * (len(new) - len(old)) > MAX_VALUE:
        raise refuse("the replacement")


def check_join(items: list[Any], separator: Any) -> None:
    sep = len(separator) if isinstance(separator, str) else 1
    if size(items) + sep * len(items) > MAX_VALUE:
        raise refuse("the joined text")


def check_str_method(text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    first = args[0] if args else None
    if name in {"center", "ljust", "rjust", "zfill"}:
        _check_width(kwargs.get("width", first), f"str.{name}()")
    elif name == "expandtabs":
        tabsize = kwargs.get("tabsize", 8 if first is None else first)
        if isinstance(tabsize, int) and len(text) + text.count("\t") * tabsize > MAX_VALUE:
            raise refuse("str.expandtabs()")
    elif name == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        _check_replace(text, args[0], args[1], count)
    elif name == "translate" and isinstance(first, dict):
        longest = max((size(v) for v in first.values()), default=1)
        if len(text) * longest > MAX_VALUE:
            raise refuse("str.translate()")


# -- filters and tests ---------------------------------------------------------------------
# Each check takes the filter's own parameters (with Jinja's defaults) and refuses
# before the filter allocates; the result is size-checked after in any case.


def _center(value: Any, width: Any = 80) -> None:
    _check_width(width, "center")


def _indent(value: Any, width: Any = 4, first: Any = False, blank: Any = False) -> None:
    text = value if isinstance(value, str) else str(value)
    prefix = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    if len(text) + (text.count("\n") + 1) * prefix > MAX_VALUE:
        raise refuse("indent")


def _replace(value: Any, old: Any, new: Any, count: Any = None) -> None:
    _check_replace(value if isinstance(value, str) else str(value), old, new, count)


def _format(value: Any, *args: Any, **kwargs: Any) -> None:
    check_percent(value if isinstance(value, str) else str(value), kwargs or args)


def _wordwrap(
    value: Any,
    width: Any = 79,
    break_long_words: Any = True,
    wrapstring: Any = None,
    break_on_hyphens: Any = True,
) -> None:
    text = value if isinstance(value, str) else str(value)
    step = width if isinstance(width, int) and width > 0 else 1
    lines = len(text) // step + text.count(" ") + text.count("\n") + 1
    if len(text) + lines * size(wrapstring or "\n") > MAX_VALUE:
        raise refuse("wordwrap")


def _urlize(value: Any, trim_url_limit: Any = None, nofollow: Any = False, target: Any = None,
            rel: Any = None, extra_schemes: Any = None) -> None:  # fmt: skip
    text = value if isinstance(value, str) else str(value)
    extra = 64 + size(target or "") + size(rel or "")
    if len(text) + (len(text) // 4 + 1) * extra > MAX_VALUE:
        raise refuse("urlize")


def _batch_or_slice(value: Any, count: Any, fill_with: Any = None) -> None:
    _check_width(count, "the batches")


def _tojson(value: Any, indent: Any = None) -> None:
    if isinstance(indent, int) and indent > 16:
        raise TemplateLimitError("tojson indents by at most 16 spaces")


def _sum(iterable: Any, attribute: Any = None, start: Any = 0) -> None:
    if not isinstance(start, int | float):
        raise TemplateLimitError("sum adds numbers only (sum of lists is not allowed)")


FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "center": _center,
    "indent": _indent,
    "replace": _replace,
    "format": _format,
    "wordwrap": _wordwrap,
    "urlize": _urlize,
    "batch": _batch_or_slice,
    "slice": _batch_or_slice,
    "tojson": _tojson,
    "sum": _sum,
}
