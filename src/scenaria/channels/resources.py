"""Subscription resources: how messages of a node's ``resource`` go out.

Loaded from a YAML file (``SCENARIA_RESOURCES`` or ``--resources``). Secrets are
never written in the file: a resource names the environment variable holding
its password or API token, read when the channel is built and never logged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from scenaria.errors import InvalidInput

ENV_RESOURCES = "SCENARIA_RESOURCES"


class _Resource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmailResource(_Resource):
    sender_name: str = "Scenaria"
    sender_address: str = "noreply@example.com"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    tls: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password_env: str | None = None
    """Name of the environment variable holding the SMTP password."""
    rate_per_second: float | None = Field(default=None, gt=0)
    timeout_seconds: float = Field(default=10, gt=0)
    """Bounds the connection, the server's greeting and each SMTP command: short, so a
    hung server costs little before its circuit breaker pauses it."""

    def password(self) -> SecretStr | None:
        return _secret(self.password_env)


class SmsResource(_Resource):
    url: str
    """The gateway's send endpoint."""
    token_env: str | None = None
    """Name of the environment variable holding the gateway's bearer token."""
    body_template: str = (
        '{"to": {{ to | tojson }}, "from": {{ sender | tojson }}, '
        '"text": {{ text | tojson }}, "reference": {{ key | tojson }}}'
    )
    """Jinja (sandboxed) JSON body; variables: to, sender, text, key."""
    id_field: str = "id"
    """Where the gateway's answer holds its message id."""
    status_field: str = "status"
    """Where the gateway's answer holds the delivery status, if it gives one."""
    rate_per_second: float | None = Field(default=None, gt=0)
    timeout_seconds: float = Field(default=10, gt=0)

    def token(self) -> SecretStr | None:
        return _secret(self.token_env)


class Resources(_Resource):
    email: dict[str, EmailResource] = Field(default_factory=lambda: {"default": EmailResource()})
    sms: dict[str, SmsResource] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None = None) -> Resources:
        """From ``path``, else ``SCENARIA_RESOURCES``, else the defaults (local SMTP)."""
        where = path or (Path(os.environ[ENV_RESOURCES]) if os.environ.get(ENV_RESOURCES) else None)
        if where is None:
            return cls()
        try:
            return cls.model_validate(yaml.safe_load(where.read_text(encoding="utf-8")) or {})
        except (OSError, yaml.YAMLError, ValueError) as exc:
            raise InvalidInput(f"resources file {where}: {exc}") from exc


def _secret(env: str | None) -> SecretStr | None:
    if not env:
        return None
    value = os.environ.get(env)
    if value is None:
        raise InvalidInput(f"environment variable {env} is not set")
    return SecretStr(value)
