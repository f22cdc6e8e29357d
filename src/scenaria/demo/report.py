"""The demo's result as a terminal table that reads at 80 columns, with a note on how
to read it (the ``default`` row, and why looping nodes count more visits than profiles)."""

from __future__ import annotations

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from scenaria.demo.run import DemoResult

OTHER_COLUMNS = 54
"""What kind and counts (up to 7 digits) take of a line, gaps included."""
NOTE = (
    "Counts are visits, not profiles: a profile that loops back through a node (the "
    "confirmation check runs again after the reminder SMS and its pause) counts once per "
    "pass, so a node can show more entries than there are profiles. `default` is the "
    "capture element every scenario has: profiles sent through the API, added by hand or "
    "from a segment enter there; the demo imports everyone, so it stays at 0."
)


def demo_table(result: DemoResult, width: int = 80) -> Table:
    """One row per node in ``width`` columns; names shorten with an ellipsis, kinds
    never wrap or shorten."""
    nodes = result.stats["nodes"]
    table = Table(
        title=f"Welcome scenario: {result.profiles} profiles, {result.confirmed} confirmed",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column(
        "node", no_wrap=True, overflow="ellipsis", max_width=max(12, width - OTHER_COLUMNS)
    )
    kind_width = max((len(n["kind"]) for n in nodes), default=4)
    table.add_column("kind", no_wrap=True, min_width=kind_width)
    for header in ("entered", "exited", "inside", "errors"):
        table.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    for node in nodes:
        table.add_row(
            node["name"] or node["id"],
            node["kind"],
            str(node["entered"]),
            str(node["exited"]),
            str(node["inside"]),
            str(node["errors"]),
        )
    return table


def demo_report(result: DemoResult, width: int = 80) -> RenderableType:
    """The table, the note under it and the totals."""
    tasks = result.stats["tasks"]
    totals = (
        f"Tasks: {tasks['entered']} entered, {tasks['finished']} finished, "
        f"{tasks['inside']} inside, {tasks['errors']} errors. "
        f"The call centre received {result.call_requests} requests."
    )
    return Group(demo_table(result, width), Text(NOTE, style="dim"), Text(""), Text(totals))


def print_demo(result: DemoResult, console: Console) -> None:
    console.print(demo_report(result, console.width))
