"""Who may do what: users in groups; a scenario in groups is theirs (admins see all)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    id: int | None
    name: str
    groups: frozenset[str]
    is_admin: bool = False

    def can_access(self, groups: Iterable[str]) -> bool:
        """A scenario or segment without groups is everyone's; otherwise members' only."""
        wanted = set(groups)
        return self.is_admin or not wanted or bool(wanted & self.groups)


SYSTEM = User(id=None, name="system", groups=frozenset(), is_admin=True)
"""The actor of changes made by the engine or the command line."""
