"""Matching: how an imported row or a lookup finds its profile by the database's match field.

A profile is stored under a *match key*, the text of its match-field value
(trimmed, and lower-cased for ``email``), unique within its database. Imports
upsert on it; events and lookups find profiles by it.
"""

from __future__ import annotations

from typing import Any

from scenaria.errors import InvalidInput
from scenaria.model.profiles import FieldType, ProfileDatabase, coerce, coerce_fields

MAX_KEY_LENGTH = 320
"""The longest match key (an e-mail address may be 320 characters)."""


def match_key(database: ProfileDatabase, value: Any) -> str:
    """The key a coerced match-field value is stored and looked up under."""
    text = str(value).strip()
    return text.lower() if database.match_field == "email" else text


def lookup_key(database: ProfileDatabase, raw: str) -> str:
    """The key of a match-field value given as text (a lookup, an event's profile)."""
    kind = database.all_fields()[database.match_field]
    return match_key(database, coerce(raw, kind, database.match_field))


def prepare_row(
    database: ProfileDatabase,
    schema: dict[str, FieldType],
    fields: dict[str, Any],
    position: int | None = None,
) -> tuple[dict[str, Any], str]:
    """Coerce one imported row's fields and find its match key, or raise saying why
    (and, given its ``position``, naming the row: ``profile #3: …``)."""
    try:
        coerced = coerce_fields(schema, fields)
        value = coerced.get(database.match_field)
        if value is None or str(value).strip() == "":
            raise InvalidInput(f"the match field '{database.match_field}' is required")
        key = match_key(database, value)
        if len(key) > MAX_KEY_LENGTH:
            raise InvalidInput(f"{database.match_field} is longer than {MAX_KEY_LENGTH} characters")
    except InvalidInput as exc:
        if position is None:
            raise
        raise InvalidInput(f"profile #{position}: {exc}") from None
    return coerced, key
