"""What a node kind is: settings schema, validation, and ``step``.

``step`` is close to a pure function of (task, scenario, profile, now): it reads
what the :class:`StepContext` offers and returns an :class:`Outcome`. The few
effects that must be atomic with the task's move (an outbox message, a promo
code, a profile change) go through the context, which the engine backs with
the current batch's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from scenaria.model.problems import Problem
from scenaria.model.profiles import Channel, FieldType, ImportSource, SubscriptionStatus


class NodeGroup(StrEnum):
    TRIGGER = "trigger"
    OPERATOR = "operator"
    CHANNEL = "channel"
    ACTION = "action"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class Move:
    """Leave the node by ``port`` now."""

    port: str
    error: str | None = None
    """Set when the node failed: it counts as an error on the node."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Stay until ``until``, then leave by ``resume_port``."""

    until: float
    resume_port: str = "next"


@dataclass(frozen=True, slots=True)
class Await:
    """Stay until an outside effect (an outbox message) reports back."""


@dataclass(frozen=True, slots=True)
class End:
    """Finish the task here (an Exit element)."""


Outcome = Move | Wait | Await | End


@dataclass(slots=True)
class ProfileView:
    """The profile as the engine sees it in one batch; changes are written back."""

    id: int
    fields: dict[str, Any]
    subscriptions: dict[str, str]
    changed: bool = False

    def subscription(self, channel: Channel) -> SubscriptionStatus | None:
        raw = self.subscriptions.get(channel.value)
        return SubscriptionStatus(raw) if raw else None


class StepContext(Protocol):
    """What a node may read and do while a task steps through it."""

    @property
    def now(self) -> float: ...
    @property
    def node_id(self) -> str: ...
    @property
    def task_data(self) -> dict[str, Any]: ...
    @property
    def profile(self) -> ProfileView: ...
    @property
    def scenario_name(self) -> str: ...
    @property
    def field_types(self) -> Mapping[str, FieldType]:
        """The profile database's schema."""
        ...

    def send(self, channel: str, payload: dict[str, Any], skip_reason: str | None = None) -> str:
        """Queue a message in the outbox (atomically with the move); return its key."""
        ...

    def update_profile(self, fields: dict[str, Any]) -> None: ...

    def take_promo_code(self, pool: str) -> str | None:
        """The next unused code of the pool, now owned by this task, or None if empty."""
        ...

    def message_events(self, node_id: str) -> frozenset[str]:
        """Event types recorded for this task's messages sent from ``node_id``."""
        ...


@dataclass(frozen=True)
class ValidationContext:
    """What validation needs to know beyond the graph itself."""

    fields: Mapping[str, FieldType]
    promo_pools: frozenset[str] | None = None
    """Known pools; None skips the check (e.g. validating a file offline)."""
    allowed_hosts: frozenset[str] | None = None
    """Hosts the API-request node may reach; None skips the check."""
    node_kinds: Mapping[str, str] = field(default_factory=dict)
    """Node id -> kind name, for settings that refer to other nodes."""


S = TypeVar("S", bound=Settings)


class NodeKind(Generic[S]):
    """One kind of node. Subclasses set the class attributes and override hooks."""

    name: ClassVar[str]
    title: ClassVar[str]
    group: ClassVar[NodeGroup]
    settings_model: type[S]
    outputs: ClassVar[tuple[str, ...]] = ("next",)
    branches: ClassVar[tuple[str, ...]] = ()
    """Outputs that must be wired (a Condition's yes and no)."""
    waits: ClassVar[bool] = False
    """A waiting element (Pause …): a cycle through it is not an endless loop."""
    start: ClassVar[bool] = False
    sources: ClassVar[frozenset[ImportSource]] = frozenset()
    """For import triggers: the import sources that fire it."""

    def parse(self, raw: Mapping[str, Any]) -> S:
        return self.settings_model.model_validate(dict(raw))

    def validate(self, node_id: str, settings: S, ctx: ValidationContext) -> Sequence[Problem]:
        return ()

    def step(self, settings: S, ctx: StepContext) -> Outcome:
        return Move("next")

    def describe(self) -> dict[str, Any]:
        """Catalogue entry for editors: group, outputs and the settings JSON schema."""
        return {
            "kind": self.name,
            "title": self.title,
            "group": self.group.value,
            "outputs": list(self.outputs),
            "branches": list(self.branches),
            "waits": self.waits,
            "settings_schema": self.settings_model.model_json_schema(),
        }


def field_problem(node_id: str, field: str, ctx: ValidationContext) -> Problem | None:
    if field not in ctx.fields:
        return Problem(
            node_id, "unknown_field", f"field '{field}' does not exist in the profile database"
        )
    return None
