"""NDJSON in the normalised event shape, for HTTP push from agents and scripts.

One JSON object per line with any of: ``time`` (RFC 3339), ``host``, ``program``, ``pid``, ``user``,
``target_user``, ``source_ip``, ``action``, ``outcome``, ``session_id``, ``command``, ``message``;
other keys go to ``extra``. Unknown ``action``/``outcome`` values are refused, not guessed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO, ClassVar

from evidence.parsers.base import (
    COUNTING_MARKERS,
    Action,
    Event,
    Outcome,
    ParseContext,
    ParseError,
    Record,
    check_record,
    decode_text,
    iter_lines,
)

TEXT_FIELDS = ("host", "program", "user", "target_user", "source_ip", "session_id", "command", "message")


def _time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ParseError("bad_timestamp", f"time must be an RFC 3339 string, not {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ParseError("bad_timestamp", f"{value[:40]!r} is not RFC 3339") from exc
    if parsed.tzinfo is None:
        raise ParseError("bad_timestamp", "time needs an offset (e.g. Z or +02:00)")
    return parsed.astimezone(UTC)


class NdjsonParser:
    name: ClassVar[str] = "ndjson"
    description: ClassVar[str] = "NDJSON, one normalised event per line"

    def records(self, stream: BinaryIO, start_offset: int = 0) -> Iterator[Record]:
        return iter_lines(stream, start_offset)

    def parse(self, record: Record, context: ParseContext) -> list[Event]:
        check_record(record)
        text = decode_text(record.data).strip()
        if not text:
            return []
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError("bad_json", str(exc)) from exc
        if not isinstance(data, dict):
            raise ParseError("not_an_object", "each line must be a JSON object")
        try:
            action = Action(data.pop("action", Action.OTHER) or Action.OTHER)
            outcome = Outcome(data.pop("outcome", Outcome.UNKNOWN) or Outcome.UNKNOWN)
        except ValueError as exc:
            raise ParseError("bad_value", str(exc)) from exc
        pid = data.pop("pid", None)
        if pid is not None and (not isinstance(pid, int) or isinstance(pid, bool) or not 0 <= pid < 2**62):
            raise ParseError("bad_value", "pid must be a non-negative integer")
        event = Event(time=_time(data.pop("time", None)), action=action, outcome=outcome, pid=pid)
        for name in TEXT_FIELDS:
            value = data.pop(name, "")
            setattr(event, name, "" if value is None else str(value))
        event.host = event.host or context.default_host
        for marker in COUNTING_MARKERS:  # the pipeline's own counting markers: a shipper's value is kept, not obeyed
            if marker in data:
                data[f"supplied_{marker}"] = data.pop(marker)
        event.extra = data
        return [event]


PARSER = NdjsonParser()
