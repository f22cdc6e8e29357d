"""CSV file import: a header row naming fields, then one profile per line.

Columns are the database's fields; optional ``<channel>_subscription`` columns
(``email_subscription``, ``sms_subscription``) set subscription statuses. An
empty cell leaves the field as it is. The file is read as a stream and
imported in batches of :data:`~scenaria.services.profiles.MAX_BATCH` through
the ordinary import (source ``file``), each batch one transaction. A bad line
is rejected with its line number and reason without stopping the others; a
header that cannot be imported refuses the whole file before anything is written.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import IO, Any

from scenaria.errors import InvalidInput
from scenaria.model.profiles import (
    Channel,
    FieldType,
    ImportSource,
    ProfileDatabase,
    SubscriptionStatus,
)
from scenaria.services.matching import prepare_row
from scenaria.services.profiles import MAX_BATCH, ProfileImport, ProfileService

SUBSCRIPTION_SUFFIX = "_subscription"
CHANNELS = frozenset(c.value for c in Channel)
MAX_LISTED_REJECTIONS = 1000
"""Rejected lines listed in the report; the count covers them all."""
DELIMITERS = frozenset({",", ";", "\t", "|"})
_Reader = Any
"""``csv.reader``'s object (its type is private to typeshed)."""


@dataclass(frozen=True)
class RejectedRow:
    line: int
    """The line of the file the row starts on (the header is line 1)."""
    reason: str


@dataclass
class CsvImportReport:
    database_id: int
    rows_read: int = 0
    """Data rows found (blank lines aside)."""
    created: int = 0
    updated: int = 0
    captured: int = 0
    """Tasks started by the import triggers the file fired."""
    batches: int = 0
    rejected_count: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_LISTED_REJECTIONS:
            self.rejected.append(RejectedRow(line, reason))


@dataclass(frozen=True)
class _Columns:
    fields: list[tuple[int, str]]
    subscriptions: list[tuple[int, Channel]]
    width: int
    schema: dict[str, FieldType]


def import_csv(
    service: ProfileService, database_id: int, data: IO[bytes], delimiter: str = ","
) -> CsvImportReport:
    """Import the UTF-8 CSV in ``data`` into the database; returns the progress report."""
    if delimiter not in DELIMITERS:
        raise InvalidInput("the delimiter must be one of , ; | or a tab")
    database = service.get_database(database_id)
    report = CsvImportReport(database_id)
    # Bytes that are not UTF-8 become U+FFFD, and their line is rejected.
    text = io.TextIOWrapper(data, encoding="utf-8-sig", errors="replace", newline="")
    try:
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        header = _next_record(reader)
        if header is None:
            raise InvalidInput("the file is empty: its first line must name the columns")
        columns = _columns(database, header[1])
        batch: list[ProfileImport] = []
        while (record := _next_record(reader)) is not None:
            line, cells = record
            if isinstance(cells, list) and not any(c.strip() for c in cells):
                continue
            report.rows_read += 1
            try:
                if isinstance(cells, str):
                    raise InvalidInput(cells)
                batch.append(_row(database, columns, cells))
            except InvalidInput as exc:
                report.reject(line, str(exc))
                continue
            if len(batch) == MAX_BATCH:
                _flush(service, database_id, batch, report)
                batch = []
        if batch:
            _flush(service, database_id, batch, report)
        return report
    finally:
        text.detach()  # the caller owns the file


def _next_record(reader: _Reader) -> tuple[int, list[str] | str] | None:
    """(first line, cells) of the next record, a reason instead of cells if it is
    unreadable, or None at the end of the file."""
    line = reader.line_num + 1
    try:
        cells = next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        return line, f"not readable as CSV: {exc}"
    return line, cells


def _columns(database: ProfileDatabase, header: list[str] | str) -> _Columns:
    if isinstance(header, str):
        raise InvalidInput(f"the header row cannot be read: {header}")
    names = [h.strip().lower() for h in header]
    schema = database.all_fields()
    fields: list[tuple[int, str]] = []
    subscriptions: list[tuple[int, Channel]] = []
    unknown: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise InvalidInput(f"the header names the column '{name}' twice")
        seen.add(name)
        channel = name.removesuffix(SUBSCRIPTION_SUFFIX)
        if name in schema:
            fields.append((i, name))
        elif name.endswith(SUBSCRIPTION_SUFFIX) and channel in CHANNELS:
            subscriptions.append((i, Channel(channel)))
        else:
            unknown.append(name or f"(column {i + 1} has no name)")
    if unknown:
        allowed = [*schema, *(f"{c.value}{SUBSCRIPTION_SUFFIX}" for c in Channel)]
        raise InvalidInput(
            f"unknown column(s) {', '.join(unknown)} in the header: the columns may be "
            f"{', '.join(allowed)}"
        )
    if database.match_field not in seen:
        raise InvalidInput(
            f"the header has no '{database.match_field}' column, the match field of the database"
        )
    return _Columns(fields, subscriptions, len(names), schema)


def _row(database: ProfileDatabase, columns: _Columns, cells: list[str]) -> ProfileImport:
    if len(cells) > columns.width:
        raise InvalidInput(f"{len(cells)} values but the header names {columns.width} columns")
    if any("\ufffd" in c for c in cells):
        raise InvalidInput("the line is not UTF-8 text")
    values = {
        name: cells[i].strip() for i, name in columns.fields if i < len(cells) and cells[i].strip()
    }
    fields, _ = prepare_row(database, columns.schema, values)
    subscriptions: dict[Channel, SubscriptionStatus] = {}
    for i, channel in columns.subscriptions:
        raw = cells[i].strip().lower() if i < len(cells) else ""
        if not raw:
            continue
        try:
            subscriptions[channel] = SubscriptionStatus(raw)
        except ValueError:
            choices = ", ".join(s.value for s in SubscriptionStatus)
            raise InvalidInput(
                f"{channel.value}{SUBSCRIPTION_SUFFIX}: {cells[i]!r} is not one of {choices}"
            ) from None
    return ProfileImport.model_construct(fields=fields, subscriptions=subscriptions)


def _flush(
    service: ProfileService, database_id: int, batch: list[ProfileImport], report: CsvImportReport
) -> None:
    result = service.import_profiles(database_id, batch, ImportSource.FILE)
    report.batches += 1
    report.created += result.created
    report.updated += result.updated
    report.captured += result.captured
