"""API users and tokens: tokens are shown once and stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from scenaria.clock import Clock
from scenaria.model.access import User
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


def audit(
    tx: Tx, now: float, actor: User, scenario_id: int | None, action: str, **details: object
) -> None:
    """Write one audit journal entry in the caller's transaction."""
    tx.audit.add(now, actor.id, actor.name, scenario_id, action, dict(details) or None)
