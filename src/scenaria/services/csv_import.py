"""CSV file import: a header row naming fields, then one profile per line.

Columns are the database's fields; optional ``<channel>_subscription`` columns
(``email_subscription``, ``sms_subscription``) set subscription statuses. An
empty cell leaves the field as it is. The file is read as a stream and
imported in batches of :data:`~scenaria.services.profiles.MAX_BATCH` through
the ordinary import (source ``file``), each batch one transaction. A bad line
is rejected with its line number and reason without stopping the others; a
header that cannot be imported, or a file that is not UTF-8 text, refuses the
whole file before anything is written.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable
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
SCAN_CHUNK = 1 << 20
"""Bytes read at a time when checking that a file is UTF-8."""
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


Progress = Callable[["CsvImportReport"], None]
"""Called with the report after each batch is imported."""


def import_csv(
    service: ProfileService,
    database_id: int,
    data: IO[bytes],
    delimiter: str = ",",
    on_batch: Progress | None = None,
) -> CsvImportReport:
    """Import the UTF-8 CSV in ``data`` into the database; returns the progress report
    (``on_batch`` gets it after each batch too)."""
    if delimiter not in DELIMITERS:
        raise InvalidInput("the delimiter must be one of , ; | or a tab")
    database = service.get_database(database_id)
    report = CsvImportReport(database_id)
    if data.seekable():
        check_utf8(data)
    text = io.TextIOWrapper(data, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    try:
        _import_records(service, database, reader, report, on_batch)
    except UnicodeDecodeError as exc:  # a file that could not be checked first
        raise InvalidInput(_not_utf8(reader.line_num + 1, exc.object, exc.start)) from None
    finally:
        text.detach()  # the caller owns the file
    return report


def check_utf8(data: IO[bytes]) -> None:
    """Refuse a file that is not UTF-8 text (a UTF-8 byte-order mark is fine), naming
    the first line that is not, and rewind it.

    Decoding it loosely instead turned every accented letter of a Windows-1252 file
    into U+FFFD, and the header into "unknown column(s) ��b…"."""
    start = data.tell()
    head = data.read(2)
    if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise InvalidInput(
            'the file is not UTF-8: it is UTF-16 text; save it as UTF-8 ("CSV UTF-8") '
            "and upload it again"
        )
    data.seek(start)
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines_before = 0
    try:
        while chunk := data.read(SCAN_CHUNK):
            decoder.decode(chunk)
            lines_before += chunk.count(b"\n")
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        # exc.object is this chunk plus at most 3 held-back bytes, none of them "\n".
        line = lines_before + exc.object[: exc.start].count(b"\n") + 1
        raise InvalidInput(_not_utf8(line, exc.object, exc.start)) from None
    finally:
        data.seek(start)


def _not_utf8(line: int, data: bytes, position: int) -> str:
    """The reason a file is refused: the line, the byte, how the line reads in Windows-1252."""
    begin = data.rfind(b"\n", 0, position) + 1
    end = data.find(b"\n", position)
    text = data[begin : end if end >= 0 else len(data)].rstrip(b"\r")
    if len(text) > 80:
        start = max(0, min(position - begin - 40, len(text) - 80))
        text = text[start : start + 80]
    guess = text.decode("cp1252", errors="replace")
    return (
        f"the file is not UTF-8: line {line} has the byte 0x{data[position]:02x}, which UTF-8 "
        f"does not allow (it looks like Windows-1252 or Latin-1, where the line reads "
        f'{guess!r}); save the file as UTF-8 ("CSV UTF-8") and upload it again'
    )


def _import_records(
    service: ProfileService,
    database: ProfileDatabase,
    reader: _Reader,
    report: CsvImportReport,
    on_batch: Progress | None,
) -> None:
    assert database.id is not None
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
            _flush(service, database.id, batch, report, on_batch)
            batch = []
    if batch:
        _flush(service, database.id, batch, report, on_batch)


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
    service: ProfileService,
    database_id: int,
    batch: list[ProfileImport],
    report: CsvImportReport,
    on_batch: Progress | None,
) -> None:
    result = service.import_profiles(database_id, batch, ImportSource.FILE)
    report.batches += 1
    report.created += result.created
    report.updated += result.updated
    report.captured += result.captured
    if on_batch is not None:
        on_batch(report)
