"""One consistent view of the database for checks that compare stored state (the audit trail's
chain, evidence chains, counters), so that they never report as broken what others are writing
while they read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def consistent_snapshot() -> Iterator[None]:
    """Every read inside sees the database as it was at the first one.

    PostgreSQL: a REPEATABLE READ, READ ONLY transaction. SQLite: one transaction, which reads one
    snapshot in WAL mode. Inside a transaction already under way (a test, a caller's atomic block),
    that transaction is the snapshot's boundary: its isolation can no longer change."""
    fresh = not connection.in_atomic_block
    with transaction.atomic():
        if fresh and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield
