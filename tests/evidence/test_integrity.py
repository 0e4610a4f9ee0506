"""The canonical bytes of an event are what auditors re-hash offline: they must stay exactly what
the documented ``json.dumps`` call writes, whichever encoder the ingestion hot path uses."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from evidence import integrity

HOSTILE_TEXTS = [
    "",
    'quote " and backslash \\ and slash /',
    "controls \x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x1f\x7f",
    "line separators \u2028 \u2029 and BOM \ufeff",
    "non-ASCII: é ß 漢字 🙂 \U0010fffd",
    "<script>alert(1)</script>",
    "\\u0000 written out",
]


def _documented(values: list[Any]) -> bytes:
    """The canonical bytes as the module docstring tells an auditor to build them."""
    time, received_at, *plain, extra, dedup = values
    options: dict[str, Any] = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False, "default": str}
    try:
        extra_text = json.dumps(extra, **options)
    except TypeError:  # keys of mixed types are made text first
        extra_text = json.dumps(json.loads(json.dumps(extra, default=str)), **options)
    extra_text = "{}" if not extra else extra_text.replace("\\u0000", "\\ufffd")
    array = [
        None if time is None else time.astimezone(UTC).isoformat(timespec="microseconds"),
        received_at.astimezone(UTC).isoformat(timespec="microseconds"),
        *plain,
        extra_text,
        dedup.hex(),
    ]
    return json.dumps(array, separators=(",", ":"), ensure_ascii=False).encode()


def _values(text: str, extra: Any, pid: int | None = 4242, time: datetime | None = None) -> list[Any]:
    when = time or datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    plain = [text, "sshd", pid, text, "root", "192.0.2.7", "logon", "failure", text, text, text]
    assert len(plain) == len(integrity.CANONICAL_FIELDS) - 4
    return [when, datetime(2026, 1, 2, 1, 5, tzinfo=UTC), *plain, extra, hashlib.sha256(text.encode()).digest()]


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"auth_event": "x", "invalid_user": True, "uid": 0, "none": None},
        {"z": "last", "a": "first", "é": "accented key", "nested": {"b": [1, 2.5, None]}},
        {"big": 2**70, "neg": -(2**63) - 1},
        {"float": 1e16, "small": 0.1, "inf": float("inf")},
        {1: "int key", "s": "str key"},
        {"when": datetime(2026, 1, 1, tzinfo=UTC), "nul": "a\x00b"},
    ],
    ids=["empty", "plain", "nested-and-sorted", "huge-ints", "floats", "mixed-keys", "non-json-types"],
)
def test_canonical_bytes_are_the_documented_json(text: str, extra: dict[Any, Any]) -> None:
    values = _values(text, dict(extra))
    assert integrity.canonical_values(values) == _documented(values)
    fields = dict(zip(integrity.CANONICAL_FIELDS, values, strict=True))
    assert integrity.leaf_hash(fields) == hashlib.sha256(b"\x00" + _documented(values)).digest()


def test_extra_text_is_what_is_stored_and_hashed() -> None:
    extra = {"b": "two", "a": "one\x00", "flag": False}
    text = integrity.extra_json(extra)
    assert text == '{"a":"one\\ufffd","b":"two","flag":false}'
    values = _values("x", extra)
    assert integrity.canonical_values(values) == integrity.canonical_values([*values[:-2], text, values[-1]])


def test_missing_time_and_unbounded_pid_fall_back_to_the_same_bytes() -> None:
    values = _values("text", {"k": "v"}, pid=2**80)
    values[0] = None
    assert integrity.canonical_values(values) == _documented(values)


def test_leaf_hash_of_a_fixed_event_never_changes() -> None:
    """A change to the canonical form would break every stored chain: this pins it."""
    values = _values("Accepted publickey for alice", {"auth_event": "accepted", "invalid_user": False})
    assert _documented(values).startswith(b'["2026-01-02T01:04:05.123456+00:00","2026-01-02T01:05:00.000000+00:00",')
    assert integrity.leaf_hash_of(values).hex() == hashlib.sha256(b"\x00" + _documented(values)).hexdigest()
    assert integrity.leaf_hash_of(values).hex() == PINNED_LEAF


PINNED_LEAF = "e62b63981bfda9fca3200528a58c72e166cf3eb2574dcded5caaf9ff18f98b34"
