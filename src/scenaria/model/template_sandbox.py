"""The template sandbox: Jinja's immutable sandbox with limits on size and work.

Jinja's sandbox keeps a template away from Python internals, but not from the
machine: ``{{ 9 ** 9 ** 9 }}`` or ``{{ 'x' * 10**9 }}`` is one expression, two
nested ``range(100000)`` loops are 10^10 steps, a macro calling itself twice
doubles with each level. Here:

- operations that grow a value (``**``, ``*``, ``+``, ``%``, ``~``, the padding,
  joining and replacing filters and string methods) are checked *before* they
  run, so no value exceeds ``MAX_VALUE`` characters/items or ``MAX_INT_BITS``;
- every loop step, call, filter, test and comparison is charged to a per-render
  work budget (``MAX_WORK`` units, larger values costing more);
- every buffer the template joins (the output, a block ``set``, a macro's body)
  is capped at ``MAX_OUTPUT`` characters.

Nothing that can grow is folded at compile time: Jinja never folds intercepted
operators in a sandbox, and every filter and test is wrapped as context-taking,
which it does not fold either, so compiling costs time in proportion to the
source only. A limit reached raises ``TemplateLimitError`` naming it.
"""

from __future__ import annotations

import operator
import re
import string
import time
import types
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from jinja2 import nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg, generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

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

_LOOP_FILTER = "_scenaria_loop"
_CHARGE_FILTER = "_scenaria_charge"
INTERCEPTED_BINOPS = frozenset({"**", "*", "+", "%"})
_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "**": operator.pow,
    "*": operator.mul,
    "+": operator.add,
    "%": operator.mod,
}
_NUMBERS = frozenset({int, float})
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


def _refuse(what: str) -> TemplateLimitError:
    return TemplateLimitError(f"{what} would exceed {MAX_VALUE} characters")


def checked(value: Any, what: str = "a value") -> Any:
    """``value`` if it is within the limits (charging its size), else refuse it."""
    kind = type(value)
    if kind is str:  # the common case, first
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
        raise _refuse(what)
    return value


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_width(width: Any, what: str) -> None:
    if isinstance(width, int) and width > MAX_VALUE:
        raise _refuse(what)


def _check_percent(fmt: str, args: Any) -> None:
    for spec in _PERCENT_SPEC.finditer(fmt):
        for number in spec.groups():
            if number == "*":
                raise TemplateLimitError("a '*' width in a % format is not allowed")
            if number and int(number) > MAX_VALUE:
                raise _refuse(f"the format {spec.group(0)!r}")
    checked(args, "the format's arguments")


def _check_format_spec(fmt: str) -> None:
    """``str.format`` widths: ``'{:>999999999}'`` would allocate before any check."""
    for _, _, spec, _ in string.Formatter().parse(fmt):
        if not spec:
            continue
        if "{" in spec:
            raise TemplateLimitError("a computed width in a format is not allowed")
        for number in re.findall(r"\d+", spec):
            if int(number) > MAX_VALUE:
                raise _refuse(f"the format spec {spec!r}")


def _check_replace(text: str, old: Any, new: Any, count: Any) -> None:
    if not isinstance(old, str) or not isinstance(new, str) or len(new) <= len(old):
        return
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * (len(new) - len(old)) > MAX_VALUE:
        raise _refuse("the replacement")


def _check_join(items: list[Any], separator: Any) -> None:
    sep = len(separator) if isinstance(separator, str) else 1
    if size(items) + sep * len(items) > MAX_VALUE:
        raise _refuse("the joined text")


def binop(op: str, left: Any, right: Any) -> Any:
    """``left op right``, refused before it runs if the result would be too large."""
    spend(1)
    if op == "**":
        base, exponent = _number(left), _number(right)
        if base is not None and exponent is not None and exponent > 0 and abs(base) > 1:
            # a lower bound of the result's bits; what passes is at most twice the
            # limit, cheap to compute and refused by the check on the result
            if (base.bit_length() - 1) * exponent > MAX_INT_BITS:
                raise TemplateLimitError(f"{base} ** {exponent} would exceed {MAX_INT_BITS} bits")
    elif op == "*":
        sequence, times = (left, _number(right)) if _number(left) is None else (right, left)
        if isinstance(sequence, str | bytes | list | tuple) and isinstance(times, int):
            if times > 0 and size(sequence) * times > MAX_VALUE:
                raise _refuse("the repetition")
    elif op == "%" and isinstance(left, str):
        _check_percent(left, right)
    return checked(_BINOPS[op](left, right), f"the result of {op!r}")


def _check_str_method(text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    first = args[0] if args else None
    if name in {"center", "ljust", "rjust", "zfill"}:
        _check_width(kwargs.get("width", first), f"str.{name}()")
    elif name == "expandtabs":
        tabsize = kwargs.get("tabsize", 8 if first is None else first)
        if isinstance(tabsize, int) and len(text) + text.count("\t") * tabsize > MAX_VALUE:
            raise _refuse("str.expandtabs()")
    elif name == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        _check_replace(text, args[0], args[1], count)
    elif name == "translate" and isinstance(first, dict):
        longest = max((size(v) for v in first.values()), default=1)
        if len(text) * longest > MAX_VALUE:
            raise _refuse("str.translate()")


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    current = current_budget.get()
    for item in iterable:
        if current is not None:
            current.spend(1)
        yield item


@pass_context
def _loop_filter(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    """What every ``{% for %}`` iterates: its items, each charged one unit."""
    return _counted(iterable)


@pass_context
def _charge_filter(context: Context, value: Any) -> Any:
    """The operands of comparisons and ``~``: charged their size, refused if too large."""
    return checked(value)


def bounded_concat(pieces: Iterable[str]) -> str:
    """Join a buffer (the output, a block ``set``, a macro body), at most MAX_OUTPUT long."""
    if isinstance(pieces, list):  # a buffer: complete already, measured at once
        parts = pieces
        if sum(map(len, parts)) > MAX_OUTPUT:
            raise _too_long()
    else:  # the output, as it is produced: stop as soon as it is too long
        parts = []
        total = 0
        for piece in pieces:
            total += len(piece)
            if total > MAX_OUTPUT:
                raise _too_long()
            parts.append(piece)
    return "".join(parts)


def _too_long() -> TemplateLimitError:
    return TemplateLimitError(f"the rendered text exceeds {MAX_OUTPUT} characters")


def _finalize(value: Any) -> Any:
    """Every ``{{ }}`` value, before it becomes text: ``str()`` of a nested list
    cannot be interrupted, so its size is checked first."""
    return checked(value, "the printed value")


# -- filters and tests ---------------------------------------------------------------------
# Each check takes the filter's own parameters (with Jinja's defaults) and refuses
# before the filter allocates; the result is size-checked after in any case.


def _center(value: Any, width: Any = 80) -> None:
    _check_width(width, "center")


def _indent(value: Any, width: Any = 4, first: Any = False, blank: Any = False) -> None:
    text = value if isinstance(value, str) else str(value)
    prefix = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    if len(text) + (text.count("\n") + 1) * prefix > MAX_VALUE:
        raise _refuse("indent")


def _replace(value: Any, old: Any, new: Any, count: Any = None) -> None:
    _check_replace(value if isinstance(value, str) else str(value), old, new, count)


def _format(value: Any, *args: Any, **kwargs: Any) -> None:
    _check_percent(value if isinstance(value, str) else str(value), kwargs or args)


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
        raise _refuse("wordwrap")


def _urlize(value: Any, trim_url_limit: Any = None, nofollow: Any = False, target: Any = None,
            rel: Any = None, extra_schemes: Any = None) -> None:  # fmt: skip
    text = value if isinstance(value, str) else str(value)
    extra = 64 + size(target or "") + size(rel or "")
    if len(text) + (len(text) // 4 + 1) * extra > MAX_VALUE:
        raise _refuse("urlize")


def _batch_or_slice(value: Any, count: Any, fill_with: Any = None) -> None:
    _check_width(count, "the batches")


def _tojson(value: Any, indent: Any = None) -> None:
    if isinstance(indent, int) and indent > 16:
        raise TemplateLimitError("tojson indents by at most 16 spaces")


def _sum(iterable: Any, attribute: Any = None, start: Any = 0) -> None:
    if not isinstance(start, int | float):
        raise TemplateLimitError("sum adds numbers only (sum of lists is not allowed)")


_FILTER_CHECKS: dict[str, Callable[..., None]] = {
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


def _guarded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` (a filter or test) charged, checked and never folded at compile time."""
    pass_arg = _PassArg.from_obj(func)
    check = _FILTER_CHECKS.get(name)

    def guarded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        spend(1 + size(value))
        if name == "join":
            value = list(value)
            _check_join(value, args[0] if args else kwargs.get("d", ""))
        elif check is not None:
            check(value, *args, **kwargs)
        if pass_arg is _PassArg.context:
            result = func(context, value, *args, **kwargs)
        elif pass_arg is _PassArg.eval_context:
            result = func(context.eval_ctx, value, *args, **kwargs)
        elif pass_arg is _PassArg.environment:
            result = func(context.environment, value, *args, **kwargs)
        else:
            result = func(value, *args, **kwargs)
        return checked(result, f"the result of {name}")

    guarded.__name__ = getattr(func, "__name__", name)
    guarded.__doc__ = func.__doc__
    return pass_context(guarded)


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > 100 or max > 1000:
        raise TemplateLimitError("lipsum makes at most 100 paragraphs of 1000 words")
    return generate_lorem_ipsum(n, html, min, max)


class _Guards(NodeTransformer):
    """Route loops, comparisons and ``~`` through the charging filters."""

    @staticmethod
    def _wrap(node: nodes.Expr, name: str) -> nodes.Expr:
        if isinstance(node, nodes.Const):
            return node
        return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._wrap(node.iter, _LOOP_FILTER)  # type: ignore[arg-type]
        return node

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        self.generic_visit(node)
        node.expr = self._wrap(node.expr, _CHARGE_FILTER)
        for operand in node.ops:
            operand.expr = self._wrap(operand.expr, _CHARGE_FILTER)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [self._wrap(n, _CHARGE_FILTER) for n in node.nodes]
        return self._wrap(node, _CHARGE_FILTER)


class LimitedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with the size and work limits of this module."""

    intercepted_binops = INTERCEPTED_BINOPS

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_finalize, **options)
        self.concat = bounded_concat  # type: ignore[method-assign]
        self.filters = {name: _guarded(name, f) for name, f in self.filters.items()}
        self.filters[_LOOP_FILTER] = _loop_filter
        self.filters[_CHARGE_FILTER] = _charge_filter
        self.tests = {name: _guarded(name, f) for name, f in self.tests.items()}  # type: ignore[arg-type]
        self.globals["lipsum"] = _lipsum

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        guarded = _Guards().visit(tree)
        guarded.set_environment(self)
        return guarded  # type: ignore[no-any-return]

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator != "**" and type(left) in _NUMBERS and type(right) in _NUMBERS:
            # arithmetic, the common case: only an integer's size needs a check
            result = _BINOPS[operator](left, right)
            if type(result) is int and result.bit_length() > MAX_INT_BITS:
                raise TemplateLimitError(
                    f"the result of {operator!r} would exceed {MAX_INT_BITS} bits"
                )
            return result
        return binop(operator, left, right)

    # Attribute and item look-ups are not charged: how many a loop step makes is
    # bounded by the source, and the step itself is charged.
    def getitem(self, obj: Any, argument: Any) -> Any:
        value = super().getitem(obj, argument)
        if isinstance(argument, slice):  # a copy, as large as the slice
            spend(size(value))
        return value

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt: str = value.__self__

        def limited(*args: Any, **kwargs: Any) -> str:
            spend(1 + len(fmt))
            _check_format_spec(fmt)
            checked(args, "the format's arguments")
            checked(kwargs, "the format's arguments")
            return checked(wrapper(*args, **kwargs), "the formatted text")  # type: ignore[no-any-return]

        return limited

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        spend(CALL_UNITS)
        if isinstance(__obj, LoopContext) and args:  # a recursive loop's next level
            args = (_counted(args[0]), *args[1:])
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and isinstance(__obj, types.BuiltinMethodType):
            spend(len(owner))
            if __obj.__name__ == "join" and args:
                items = list(args[0])
                _check_join(items, owner)
                args = (items, *args[1:])
            else:
                _check_str_method(owner, __obj.__name__, args, kwargs)
        return checked(super().call(__context, __obj, *args, **kwargs), "the call's result")


def constant_problem(tree: nodes.Template) -> str | None:
    """The first limit a constant expression of ``tree`` breaks (``9 ** 9 ** 9``),
    found at save rather than at the first send."""
    memo: dict[int, Any] = {}

    def fold(node: nodes.Node) -> Any:
        key = id(node)
        if key not in memo:
            if isinstance(node, nodes.BinExpr) and node.operator in INTERCEPTED_BINOPS:
                memo[key] = binop(node.operator, fold(node.left), fold(node.right))
            elif isinstance(node, nodes.Expr):
                # literals and look-ups on them; Impossible for names, calls and filters
                memo[key] = node.as_const()
            else:
                raise nodes.Impossible()
        return memo[key]

    for node in tree.find_all(nodes.BinExpr):
        try:
            fold(node)
        except TemplateLimitError as exc:
            return f"line {node.lineno}: {exc}"
        except Exception:  # not constant, or an error the render will report
            continue
    return None
