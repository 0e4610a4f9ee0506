"""Writing events: PostgreSQL binary COPY, idempotent (a record already stored is a duplicate, not
an error). Other databases (the embedded SQLite) use ``bulk_create(ignore_conflicts=True)``.

Both return the positions actually inserted, so the caller hashes exactly what was stored.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, connection, transaction

from evidence.models import Event
from evidence.parsers.base import DESCRIPTIVE_FIELDS

COLUMNS = (
    "source_id", "job_id", "chunk_id", "position", "dedup_key", "leaf_hash", "time", "received_at",
    *DESCRIPTIVE_FIELDS, "extra", "raw_offset", "raw_length",
)  # fmt: skip
COPY_TYPES = (
    "bigint",
    "uuid",
    "bigint",
    "integer",
    "bytea",
    "bytea",
    "timestamptz",
    "timestamptz",
    "text",
    "text",
    "bigint",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "jsonb",
    "bigint",
    "bigint",
)
STAGE = "evidence_event_stage"
EventRow = namedtuple("EventRow", COLUMNS)


def _quoted(columns: Sequence[str]) -> str:
    return ", ".join(f'"{column}"' for column in columns)


def write_rows(rows: list[tuple[Any, ...]]) -> set[int]:
    """Insert event rows (tuples in ``COLUMNS`` order); return the positions that were new."""
    if not rows:
        return set()
    if connection.vendor == "postgresql":
        return _copy(rows)
    return _bulk(rows)


def _copy(rows: list[tuple[Any, ...]]) -> set[int]:
    """COPY the rows straight into the table (a record repeated inside the batch is sent once).
    If one was stored before (a file ingested again, or a concurrent chunk), the unique index
    refuses the COPY and the batch goes through the staging table with ON CONFLICT DO NOTHING:
    the common case pays for no look-up, the rare one for a second pass."""
    dedup = COLUMNS.index("dedup_key")
    seen: set[bytes] = set()
    fresh = []
    for row in rows:
        if row[dedup] not in seen:
            seen.add(row[dedup])
            fresh.append(row)
    try:
        with transaction.atomic():
            _copy_into(Event._meta.db_table, fresh)
    except IntegrityError:
        return _copy_staged(fresh)
    position = COLUMNS.index("position")
    return {row[position] for row in fresh}


def _copy_into(table: str, rows: list[tuple[Any, ...]]) -> None:
    from psycopg.types.json import set_json_dumps

    with connection.wrap_database_errors, connection.cursor() as cursor:  # IntegrityError on a conflict
        set_json_dumps(str, context=cursor.cursor)  # the extra fields are JSON text already
        with cursor.cursor.copy(f"COPY {table} ({_quoted(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(COPY_TYPES)
            for row in rows:
                copy.write_row(row)


def _copy_staged(rows: list[tuple[Any, ...]]) -> set[int]:
    table = Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} AS SELECT {_quoted(COLUMNS)} FROM {table} WITH NO DATA"  # noqa: S608
        )
        _copy_into(STAGE, rows)
        cursor.execute(
            f"INSERT INTO {table} ({_quoted(COLUMNS)}) SELECT {_quoted(COLUMNS)} FROM {STAGE} "  # noqa: S608
            'ON CONFLICT ("source_id", "dedup_key") DO NOTHING RETURNING "position"'
        )
        inserted = {position for (position,) in cursor.fetchall()}
        cursor.execute(f"TRUNCATE {STAGE}")
    return inserted


def _bulk(rows: list[tuple[Any, ...]]) -> set[int]:
    chunk_id = rows[0][COLUMNS.index("chunk_id")]
    before = set(Event.objects.filter(chunk_id=chunk_id).values_list("position", flat=True))
    Event.objects.bulk_create(
        [Event(**dict(zip(COLUMNS, row, strict=True))) for row in rows], ignore_conflicts=True, batch_size=500
    )
    return set(Event.objects.filter(chunk_id=chunk_id).values_list("position", flat=True)) - before
