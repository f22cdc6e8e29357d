"""Profile databases, their typed field schema, profiles and subscriptions."""

from __future__ import annotations

import math
import re
import unicodedata
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


_ADDRESS_SPECIALS = frozenset('"(),:;<>[\\]')
"""Characters an unquoted address may not hold (RFC 5322 specials, ``@`` aside)."""


def email_problem(address: str) -> str | None:
    """Why ``address`` is not an e-mail address a message can be sent to, or None.

    Syntax only, after trimming surrounding spaces: ``local@domain``, no spaces or
    control characters, none of ``"(),:;<>[\\]``, a local part of at most 64
    characters with no leading, trailing or doubled dot, and a domain of at least
    two dot-separated labels (letters, digits, inner hyphens; at most 63 each).
    Non-ASCII letters are allowed on both sides (internationalised addresses, sent
    with SMTPUTF8); quoted local parts and ``[address]`` domains are not.
    """
    text = address.strip()
    if "@" not in text:
        return "it has no @"
    local, _, domain = text.rpartition("@")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in text):
        return "it has a control character in it"
    if any(c.isspace() for c in text):
        return "it has a space in it"
    if "@" in local:
        return "it has more than one @"
    bad = sorted({c for c in text if c in _ADDRESS_SPECIALS})
    if bad:
        return f"it has {' '.join(bad)} in it"
    if not local:
        return "nothing comes before the @"
    if len(local) > 64:
        return "the part before the @ is longer than 64 characters"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "the part before the @ has a leading, trailing or doubled dot"
    labels = domain.split(".")
    if not domain or len(labels) < 2 or len(domain) > 255:
        return f"{domain or 'nothing'} after the @ is not a domain like example.com"
    for label in labels:
        if not label or len(label) > 63:
            return f"the domain {domain} has an empty or overlong label"
        if label.startswith("-") or label.endswith("-"):
            return f"the domain {domain} has a label starting or ending with -"
        if not all(c.isalnum() or c == "-" for c in label):
            return f"the domain {domain} holds characters a domain cannot"
    return None


PHONE_SEPARATORS = str.maketrans("", "", " -().\u00a0")
PHONE_DIGITS = (7, 15)
"""A phone number's length in digits: E.164 allows at most 15, local numbers fewer."""


def phone_problem(number: str) -> str | None:
    """Why ``number`` is not a phone number, or None.

    E.164-like: an optional leading ``+``, then 7 to 15 digits once spaces, dashes,
    dots and parentheses are taken out (``+1 (555) 010-0000`` is fine). The value is
    stored as given.
    """
    text = number.strip().translate(PHONE_SEPARATORS)
    digits = text.removeprefix("+")
    if not digits.isdecimal() or not digits.isascii():
        return "it may hold only digits, an optional leading +, spaces, dashes and parentheses"
    low, high = PHONE_DIGITS
    if not low <= len(digits) <= high:
        return f"it has {len(digits)} digits, not {low} to {high}"
    return None


FIELD_FORMATS = {"email": email_problem, "phone": phone_problem}
"""The built-in fields whose values must be an e-mail address / phone number."""


def check_format(name: str, value: Any) -> None:
    """Refuse a built-in ``email`` or ``phone`` value that is not one (an empty value
    means none and passes)."""
    problem = FIELD_FORMATS.get(name)
    if problem is None or not isinstance(value, str) or not value.strip():
        return
    why = problem(value)
    if why is not None:
        what = "an e-mail address" if name == "email" else "a phone number"
        shown = repr(value) if len(value) <= 100 else f"{value[:60]!r}… ({len(value)} characters)"
        raise InvalidInput(f"{name}: {shown} is not {what}: {why}")


def coerce_fields(schema: dict[str, FieldType], fields: dict[str, Any]) -> dict[str, Any]:
    """Check field names against the schema and coerce each value; the built-in
    ``email`` and ``phone`` must be an e-mail address and a phone number."""
    unknown = sorted(set(fields) - set(schema))
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(unknown)}: not in the database schema")
    coerced = {name: coerce(value, schema[name], name) for name, value in fields.items()}
    for name in FIELD_FORMATS.keys() & coerced.keys():
        check_format(name, coerced[name])
    return coerced


class Profile(BaseModel):
    """One customer: typed fields plus a subscription status per channel."""

    id: int | None = None
    database_id: int
    fields: dict[str, Any] = Field(default_factory=dict)
    subscriptions: dict[Channel, SubscriptionStatus] = Field(default_factory=dict)
