"""Changing append-only tables behind the application's back, as a database administrator could:
in a superuser session, ordinary triggers (the append-only guards with them) can be switched off."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def behind_the_apps_back() -> Iterator[None]:
    """Inside, UPDATE and DELETE reach tables whose triggers refuse them (PostgreSQL)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            yield
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = origin")


def tamper(sql: str, params: list | tuple = ()) -> None:
    """One statement of raw SQL behind the application's back."""
    with behind_the_apps_back(), connection.cursor() as cursor:
        cursor.execute(sql, params)
