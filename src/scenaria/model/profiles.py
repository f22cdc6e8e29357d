"""Profile databases, their typed field schema, profiles and subscriptions."""

from __future__ import annotations

import math
import re
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scenaria.errors import InvalidInput


class FieldType(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DATE = "date"


NUMERIC_TYPES = frozenset({FieldType.INT, FieldType.FLOAT})
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
"""An int field holds a 64-bit integer, what both databases and JSON columns store."""


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class SubscriptionStatus(StrEnum):
    SUBSCRIBED = "subscribed"
    """Confirmed: double opt-in done (or not required)."""
    UNCONFIRMED = "unconfirmed"
    """Double opt-in pending."""
    UNSUBSCRIBED = "unsubscribed"


class ImportSource(StrEnum):
    """Where a profile import came from; import triggers fire on their source."""

    MANUAL = "manual"
    API = "api"
    FORM = "form"
    POPUP = "popup"
    FILE = "file"


_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")

BUILTIN_FIELDS: dict[str, FieldType] = {
    "email": FieldType.STRING,
    "phone": FieldType.STRING,
}


class ProfileDatabase(BaseModel):
    """A set of profiles sharing one field schema."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    name: str = Field(min_length=1, max_length=200)
    fields: dict[str, FieldType] = Field(default_factory=dict)
    """Custom fields; ``email`` and ``phone`` always exist."""
    match_field: str = "email"
    """The field an import matches existing profiles on."""
    groups: tuple[str, ...] = ()
    """Access groups, as a scenario's: empty means visible to everyone."""

    @field_validator("fields")
    @classmethod
    def _names(cls, value: dict[str, FieldType]) -> dict[str, FieldType]:
        for name in value:
            if not _FIELD_NAME.match(name):
                raise ValueError(
                    f"field name '{name}' must be lowercase letters, digits and _ "
                    "and start with a letter or _"
                )
        return value

    def all_fields(self) -> dict[str, FieldType]:
        """All fields, built-in ones included."""
        return {**BUILTIN_FIELDS, **self.fields}


def coerce(value: Any, kind: FieldType, field: str = "value") -> Any:
    """Turn ``value`` into the field's type or raise InvalidInput saying why."""
    if value is None:
        return None
    try:
        if kind is FieldType.STRING:
            if isinstance(value, (dict, list)):
                raise ValueError
            return str(value)
        if kind is FieldType.INT:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            number = int(value)
            if not INT_MIN <= number <= INT_MAX:
                raise ValueError
            return number
        if kind is FieldType.FLOAT:
            if isinstance(value, bool):
                raise ValueError
            real = float(value)
            if not math.isfinite(real):
                raise ValueError
            return real
        if kind is FieldType.BOOL:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
                return value.lower() in {"true", "1", "yes"}
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError
        if kind is FieldType.DATE:
            if isinstance(value, date):
                return value.isoformat()
            return date.fromisoformat(str(value)).isoformat()
    except (TypeError, ValueError, OverflowError):
        pass
    raise InvalidInput(f"{field}: {value!r} is not a valid {kind.value}")


def coerce_fields(schema: dict[str, FieldType], fields: dict[str, Any]) -> dict[str, Any]:
    """Check field names against the schema and coerce each value."""
    unknown = sorted(set(fields) - set(schema))
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(unknown)}: not in the database schema")
    return {name: coerce(value, schema[name], name) for name, value in fields.items()}


class Profile(BaseModel):
    """One customer: typed fields plus a subscription status per channel."""

    id: int | None = None
    database_id: int
    fields: dict[str, Any] = Field(default_factory=dict)
    subscriptions: dict[Channel, SubscriptionStatus] = Field(default_factory=dict)
