"""Users, their API tokens (hashed), and the audit journal."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from scenaria.errors import Conflict, NotFound
from scenaria.model.access import User
from scenaria.store.schema import api_tokens, audit_log, users


class AccessRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_user(self, name: str, groups: list[str], is_admin: bool, now: float) -> User:
        if self.conn.execute(select(users.c.id).where(users.c.name == name)).first():
            raise Conflict(f"user '{name}' already exists")
        result = self.conn.execute(
            insert(users).values(name=name, groups=groups, is_admin=is_admin, created_at=now)
        )
        assert result.inserted_primary_key is not None
        return User(
            id=result.inserted_primary_key[0],
            name=name,
            groups=frozenset(groups),
            is_admin=is_admin,
        )

    def user_by_name(self, name: str) -> User:
        row = self.conn.execute(select(users).where(users.c.name == name)).first()
        if row is None:
            raise NotFound(f"user '{name}' does not exist")
        return User(id=row.id, name=row.name, groups=frozenset(row.groups), is_admin=row.is_admin)

    def add_token(self, user_id: int, name: str, token_hash: str, now: float) -> int:
        result = self.conn.execute(
            insert(api_tokens).values(
                user_id=user_id, name=name, token_hash=token_hash, created_at=now
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])

    def user_for_token(self, token_hash: str) -> User | None:
        row = self.conn.execute(
            select(users)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None))
        ).first()
        if row is None:
            return None
        return User(id=row.id, name=row.name, groups=frozenset(row.groups), is_admin=row.is_admin)

    def revoke(self, token_id: int, now: float) -> bool:
        result = self.conn.execute(
            update(api_tokens)
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)

    def tokens(self, user_id: int | None = None) -> list[dict[str, Any]]:
        query = select(
            api_tokens.c.id,
            api_tokens.c.user_id,
            api_tokens.c.name,
            api_tokens.c.created_at,
            api_tokens.c.revoked_at,
        ).order_by(api_tokens.c.id)
        if user_id is not None:
            query = query.where(api_tokens.c.user_id == user_id)
        return [dict(r._mapping) for r in self.conn.execute(query)]


class AuditRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        at: float,
        user_id: int | None,
        user_name: str,
        scenario_id: int | None,
        action: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.conn.execute(
            insert(audit_log).values(
                at=at,
                user_id=user_id,
                user_name=user_name,
                scenario_id=scenario_id,
                action=action,
                details=details,
            )
        )

    def for_scenario(self, scenario_id: int, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            select(audit_log)
            .where(audit_log.c.scenario_id == scenario_id)
            .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
            .limit(limit)
        )
        return [dict(r._mapping) for r in rows]
