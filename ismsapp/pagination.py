"""Keyset pagination for large, append-mostly lists: no COUNT(*), no OFFSET."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Any]
    next_cursor: int | None  # pass as ?before=... for the next (older) page
    cursor: int | None  # the cursor this page started from


def parse_cursor(raw: str | None) -> int | None:
    try:
        value = int(raw or "")
    except ValueError:
        return None
    return value if value > 0 else None


def keyset_page(queryset: QuerySet, *, key: str, before: int | None, size: int) -> KeysetPage:
    """Newest first: rows with ``key`` < ``before``, ``size`` of them, in one query."""
    if before is not None:
        queryset = queryset.filter(**{f"{key}__lt": before})
    rows = list(queryset.order_by(f"-{key}")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(rows=rows, next_cursor=getattr(rows[-1], key) if more and rows else None, cursor=before)
