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
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import nodes, pass_context
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg, generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

from scenaria.model.template_limits import (
    CALL_UNITS,
    FILTER_CHECKS,
    MAX_INT_BITS,
    MAX_OUTPUT,
    MAX_VALUE,
    TemplateLimitError,
    as_int,
    check_format_spec,
    check_join,
    check_percent,
    check_str_method,
    checked,
    current_budget,
    refuse,
    size,
    spend,
)

_LOOP_FILTER = "_scenaria_loop"
_CHARGE_FILTER = "_scenaria_charge"
INTERCEPTED_BINOPS = frozenset({"**", "*", "+", "%"})
_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "**": operator.pow,
    "*": operator.mul,
    "+": operator.add,
    "%": operator.mod,
}
_RESULT_OF = {op: f"the result of {op!r}" for op in _BINOPS}
_NUMBERS = frozenset({int, float})
_METHODS = (types.BuiltinMethodType, types.MethodType)


def binop(op: str, left: Any, right: Any) -> Any:
    """``left op right``, refused before it runs if the result would be too large."""
    spend(1)
    if op == "**":
        base, exponent = as_int(left), as_int(right)
        if base is not None and exponent is not None and exponent > 0 and abs(base) > 1:
            # a lower bound of the result's bits; what passes is at most twice the
            # limit, cheap to compute and refused by the check on the result
            if (base.bit_length() - 1) * exponent > MAX_INT_BITS:
                raise TemplateLimitError(f"{base} ** {exponent} would exceed {MAX_INT_BITS} bits")
    elif op == "*":
        sequence, times = (left, as_int(right)) if as_int(left) is None else (right, left)
        if isinstance(sequence, str | bytes | list | tuple) and isinstance(times, int):
            if times > 0 and size(sequence) * times > MAX_VALUE:
                raise refuse("the repetition")
    elif op == "%" and isinstance(left, str):
        check_percent(left, right)
    return checked(_BINOPS[op](left, right), _RESULT_OF[op])


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


_FIRST_ARGUMENT: dict[_PassArg | None, Callable[[Context], Any] | None] = {
    _PassArg.context: lambda context: context,
    _PassArg.eval_context: operator.attrgetter("eval_ctx"),
    _PassArg.environment: operator.attrgetter("environment"),
    None: None,
}


def _guarded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` (a filter or test) charged, checked and never folded at compile time."""
    first = _FIRST_ARGUMENT[_PassArg.from_obj(func)]
    check = FILTER_CHECKS.get(name)
    is_join = name == "join"
    what = f"the result of {name}"

    def guarded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        current = current_budget.get()
        if current is not None:
            current.spend(1 + (len(value) if type(value) is str else size(value)))
        if is_join:
            value = list(value)
            check_join(value, args[0] if args else kwargs.get("d", ""))
        elif check is not None:
            check(value, *args, **kwargs)
        if first is None:
            result = func(value, *args, **kwargs)
        else:
            result = func(first(context), value, *args, **kwargs)
        return checked(result, what)

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
            check_format_spec(fmt)
            checked(args, "the format's arguments")
            checked(kwargs, "the format's arguments")
            return checked(wrapper(*args, **kwargs), "the formatted text")  # type: ignore[no-any-return]

        return limited

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        spend(CALL_UNITS)
        if isinstance(__obj, LoopContext) and args:  # a recursive loop's next level
            args = (_counted(args[0]), *args[1:])
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and isinstance(__obj, _METHODS):  # Markup's are Python
            spend(len(owner))
            if __obj.__name__ == "join" and args:
                items = list(args[0])
                check_join(items, owner)
                args = (items, *args[1:])
            else:
                check_str_method(owner, __obj.__name__, args, kwargs)
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
