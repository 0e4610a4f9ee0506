"""asciicast recordings (asciinema): v2 and v3 streamed line by line, v1 as the single JSON
document it is.

- v2: a header line ``{"version": 2, "width", "height", "timestamp", "env", "title", ...}`` then
  ``[time, code, data]`` lines with *absolute* times.
- v3: a header line ``{"version": 3, "term": {"cols", "rows", ...}, "timestamp", "command", ...}``
  then ``[interval, code, data]`` lines with times *relative* to the previous event; codes
  ``o i r m x`` (``x``: exit status, kept in ``extra["exit_status"]``); lines starting with ``#``
  are comments.
- v1: ``{"version": 1, "width", "height", "stdout": [[delay, data], ...]}``.

Null header values (``"title": null``, ``"env": {"TERM": null}``) are tolerated.

Bad event lines: a malformed line (not JSON, wrong shape, negative time, unknown code) is skipped
and listed in the warnings as ``bad_event_line``; recorders killed mid-write leave exactly one
such line at the end, so a few are worth keeping the recording for. More than ``MAX_BAD_LINES``
and the file is not a recording we can vouch for: ``ParseError("too_many_bad_lines")``.
A missing or unusable header is ``ParseError("bad_header")``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from evidence.parsers.base import READ_BLOCK, OversizedRecord, ParseError, Record, decode_text, iter_lines
from evidence.parsers.sessions import (
    MAX_BAD_LINES,
    FrameBuilder,
    MeteredReader,
    SessionRecording,
    WarningLog,
    build_recording,
    epoch_to_utc,
    is_number,
    loads_json,
)

MAX_HEADER_BYTES = 64 * 1024
MAX_EVENT_LINE_BYTES = 1024 * 1024  # one output chunk; asciinema writes far smaller ones
_SIZE = re.compile(r"\d{1,5}x\d{1,5}")
_FRAME_CODES = frozenset("oirm")


@dataclass(slots=True)
class _Cast:
    """What a header says, plus the frames and warnings gathered while reading the events."""

    version: int
    warnings: WarningLog = field(default_factory=WarningLog)
    width: int | None = None
    height: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    bad_lines: int = 0
    builder: FrameBuilder = field(init=False)

    def __post_init__(self) -> None:
        self.builder = FrameBuilder(self.warnings)

    def bad_line(self, where: str, why: str) -> None:
        self.bad_lines += 1
        self.warnings.add("bad_event_line", f"{where}: {why}")
        if self.bad_lines > MAX_BAD_LINES:
            raise ParseError("too_many_bad_lines", f"more than {MAX_BAD_LINES} malformed event lines")


def parse_asciicast(stream: BinaryIO) -> SessionRecording:
    """Parse one asciicast v1, v2 or v3 recording from ``stream`` (read once, in bounded memory)."""
    metered = MeteredReader(stream)
    reader = io.BufferedReader(metered, READ_BLOCK)
    first = _first_line(reader)
    header = _load_header(first)
    if header is None:  # not a one-line JSON object: only a v1 document can span lines
        header = _load_v1(first + reader.read())
    cast = _Cast(version=_version(header))
    _read_header(cast, header)
    if cast.version == 1:
        _read_v1_events(cast, header)
    else:
        _read_events(cast, iter_lines(reader, max_line=MAX_EVENT_LINE_BYTES))
    sha256 = metered.drain()
    return build_recording(
        fmt=f"asciicast-v{cast.version}",
        sha256=sha256,
        builder=cast.builder,
        warnings=cast.warnings,
        started_at=epoch_to_utc(header.get("timestamp")),
        extra={"sha256_of": "file", **cast.extra},
        user=_env_user(cast.extra.get("env")),
        width=cast.width,
        height=cast.height,
        title=_text(header.get("title")),
        command=_text(header.get("command")),
    )


def _first_line(reader: io.BufferedReader[Any]) -> bytes:
    """The first non-blank line (at most ``MAX_HEADER_BYTES``, longer ones come back cut)."""
    while line := reader.readline(MAX_HEADER_BYTES):
        if line.strip():
            return line
    raise ParseError("bad_header", "empty file")


def _load_header(line: bytes) -> dict[str, Any] | None:
    """The header object of a v2/v3 file (or a one-line v1 document); None if the line is not a
    complete JSON object (a pretty-printed v1 document, or a header over ``MAX_HEADER_BYTES``)."""
    try:
        value = loads_json(decode_text(line.strip()))
    except (ValueError, ParseError):
        if line.lstrip().startswith(b"{"):
            return None
        raise ParseError("bad_header", "the first line is not a JSON object") from None
    if not isinstance(value, dict):
        raise ParseError("bad_header", "the first line is not a JSON object")
    return value


def _load_v1(document: bytes) -> dict[str, Any]:
    try:
        value = loads_json(decode_text(document))
    except ValueError as exc:
        raise ParseError("bad_header", f"not an asciicast document: {exc}") from exc
    if not isinstance(value, dict) or value.get("version") != 1:
        raise ParseError("bad_header", "a multi-line document must be asciicast v1")
    return value


def _version(header: dict[str, Any]) -> int:
    version = header.get("version")
    if version in (1, 2, 3) and not isinstance(version, bool):
        return int(version)
    raise ParseError("bad_header", f"unsupported asciicast version {version!r}")


def _read_header(cast: _Cast, header: dict[str, Any]) -> None:
    term = header.get("term") if cast.version == 3 else header
    if not isinstance(term, dict):
        raise ParseError("bad_header", "v3 header without a term object")
    width_key, height_key = ("cols", "rows") if cast.version == 3 else ("width", "height")
    width, height = term.get(width_key), term.get(height_key)
    cast.width, cast.height = _dimension(width), _dimension(height)
    if cast.width is None or cast.height is None:
        cast.warnings.add("missing_terminal_size", f"header size {width!r}x{height!r}")
    if header.get("timestamp") is not None and epoch_to_utc(header["timestamp"]) is None:
        cast.warnings.add("bad_timestamp", f"header timestamp {header['timestamp']!r} ignored")
    _copy_extras(cast, header, term)


def _copy_extras(cast: _Cast, header: dict[str, Any], term: dict[str, Any]) -> None:
    env = header.get("env")
    if isinstance(env, dict):
        cast.extra["env"] = {str(key): value for key, value in env.items() if value is None or isinstance(value, str)}
    elif env is not None:
        cast.warnings.add("bad_header_field", "env is not an object")
    if is_number(header.get("idle_time_limit")):
        cast.extra["idle_time_limit"] = header["idle_time_limit"]
    if cast.version == 3 and isinstance(term.get("type"), str):
        cast.extra["term"] = term["type"]
    tags = header.get("tags")
    if isinstance(tags, list) and all(isinstance(tag, str) for tag in tags):
        cast.extra["tags"] = tags
    if is_number(header.get("duration")):
        cast.builder.reach(float(header["duration"]))


def _dimension(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000 else None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _env_user(env: object) -> str:
    return _text(env.get("USER")) if isinstance(env, dict) else ""


def _read_events(cast: _Cast, lines: Iterator[Record]) -> None:
    clock = 0.0
    for record in lines:
        where = f"line {record.line + 1}"  # counted after the header line
        if not record.data.strip() or (cast.version == 3 and record.data.startswith(b"#")):
            continue
        try:
            time, code, data = _event(record)
        except ValueError as exc:
            cast.bad_line(where, str(exc))
            continue
        clock = clock + time if cast.version == 3 else time
        _apply_event(cast, where, clock, code, data)


def _event(record: Record) -> tuple[float, str, str]:
    """``[time, code, data]`` of one event line, or ``ValueError`` saying what is wrong with it."""
    if isinstance(record, OversizedRecord):
        raise ValueError(f"line longer than {MAX_EVENT_LINE_BYTES} bytes")
    try:
        value = loads_json(decode_text(record.data))
    except ParseError as exc:
        raise ValueError(exc.reason) from exc
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError("not a [time, code, data] array")
    time, code, data = value
    if not is_number(time) or time < 0:
        raise ValueError(f"bad time {time!r}")
    if not isinstance(code, str) or not isinstance(data, str):
        raise ValueError("code and data must be strings")
    return float(time), code, data


def _apply_event(cast: _Cast, where: str, clock: float, code: str, data: str) -> None:
    try:
        if code == "x":
            cast.builder.reach(clock)
            cast.extra["exit_status"] = int(data) if data.lstrip("-").isdigit() else data
        elif code == "r" and not _SIZE.fullmatch(data):
            cast.bad_line(where, f"bad resize {data[:20]!r}")
        elif code in _FRAME_CODES:
            cast.builder.add(clock, code, data)
        else:
            cast.bad_line(where, f"unknown event code {code[:10]!r}")
    except ParseError as exc:
        if exc.reason != "bad_time":
            raise
        cast.bad_line(where, exc.detail)


def _read_v1_events(cast: _Cast, header: dict[str, Any]) -> None:
    stdout = header.get("stdout")
    if not isinstance(stdout, list):
        raise ParseError("bad_header", "v1 document without a stdout array")
    clock = 0.0
    for index, item in enumerate(stdout):
        where = f"stdout[{index}]"
        if not (isinstance(item, list) and len(item) == 2 and is_number(item[0]) and item[0] >= 0):
            cast.bad_line(where, "not a [delay, data] pair")
            continue
        if not isinstance(item[1], str):
            cast.bad_line(where, "data is not a string")
            continue
        clock += float(item[0])
        _apply_event(cast, where, clock, "o", item[1])
