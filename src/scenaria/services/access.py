"""API users and tokens: tokens are shown once and stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scenaria.clock import Clock
from scenaria.errors import InvalidInput, NotFound
from scenaria.model.access import User
from scenaria.model.profiles import ProfileDatabase
from scenaria.store.database import Store
from scenaria.store.repositories import Tx

TOKEN_PREFIX = "scn_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    id: int
    user: User
    token: str
    """The secret itself: shown once, never stored."""


class AccessService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def create_user(self, name: str, groups: list[str], is_admin: bool = False) -> User:
        with self.store.transaction() as tx:
            return tx.access.add_user(name, sorted(set(groups)), is_admin, self.clock.now())

    def issue_token(self, user_name: str, name: str = "api") -> IssuedToken:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.transaction() as tx:
            user = tx.access.user_by_name(user_name)
            assert user.id is not None
            token_id = tx.access.add_token(user.id, name, token_hash(token), self.clock.now())
        return IssuedToken(token_id, user, token)

    def revoke(self, token_id: int) -> bool:
        with self.store.transaction() as tx:
            return tx.access.revoke(token_id, self.clock.now())

    def authenticate(self, token: str) -> User | None:
        """The token's user, or None for an unknown or revoked token (checked every call)."""
        with self.store.read() as tx:
            return tx.access.user_for_token(token_hash(token))

    def database(self, database_id: int, actor: User) -> ProfileDatabase:
        """The profile database if ``actor`` may see it (NotFound otherwise)."""
        with self.store.read() as tx:
            return visible_database(tx, database_id, actor)


def visible_database(tx: Tx, database_id: int, actor: User) -> ProfileDatabase:
    """The database if ``actor`` may see it: admins see all, others a database in one of
    their groups or in none, the rule scenarios and segments follow. For anyone else it
    does not exist."""
    database = tx.databases.get(database_id)
    if not actor.can_access(database.groups):
        raise NotFound(f"profile database {database_id} does not exist")
    return database


def named_database(tx: Tx, database_id: int, actor: User) -> ProfileDatabase:
    """The database a request body names: missing or hidden is bad input (422), not a
    missing page."""
    try:
        return visible_database(tx, database_id, actor)
    except NotFound as exc:
        raise InvalidInput(str(exc)) from None


def checked_groups(groups: Sequence[str], actor: User, what: str) -> tuple[str, ...]:
    """Groups to give ``what``, refused if they would hide it from ``actor``."""
    if not actor.can_access(groups):
        mine = ", ".join(sorted(actor.groups)) or "none"
        raise InvalidInput(
            f"you would lose access to the {what}: assign it to no group or to at least "
            f"one of yours ({mine})"
        )
    return tuple(sorted(set(groups)))


def visible_message(tx: Tx, key: str, actor: User) -> dict[str, Any]:
    """The outbox row of a message if ``actor`` may see its scenario and its profile's
    database; otherwise, like a message that does not exist, NotFound."""
    message = tx.outbox.get(key)
    hidden = NotFound(f"message {key} does not exist")
    try:
        scenario = tx.scenarios.get(message["scenario_id"])
        database = tx.databases.get(scenario.database_id)
    except NotFound:
        if actor.is_admin:
            return message
        raise hidden from None
    if not (actor.can_access(scenario.groups) and actor.can_access(database.groups)):
        raise hidden
    return message


def audit(
    tx: Tx, now: float, actor: User, scenario_id: int | None, action: str, **details: object
) -> None:
    """Write one audit journal entry in the caller's transaction."""
    tx.audit.add(now, actor.id, actor.name, scenario_id, action, dict(details) or None)
