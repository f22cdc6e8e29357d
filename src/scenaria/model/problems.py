"""A validation problem names the node it is about and says what is wrong."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    node_id: str | None
    """The offending node, or None for a scenario-wide problem."""
    code: str
    """A stable machine-readable code, e.g. ``start_not_connected``."""
    message: str
    """What is wrong, readable by a marketer."""
    blocks_save: bool = False
    """True only for problems the seed says forbid saving at all."""

    def __str__(self) -> str:
        where = f"node '{self.node_id}'" if self.node_id else "scenario"
        return f"{where}: {self.message}"
