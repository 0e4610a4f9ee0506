"""Privileged-session recordings: the model shared by the asciicast, tlog and sudo I/O log parsers.

Every recording, whatever its format, becomes one ``SessionRecording``: who, where, when, the
terminal size, the input/output stream as timed ``Frame`` objects, the command lines rebuilt from
the keystrokes, and the SHA-256 of the bytes it was read from. ``to_asciicast_v2`` turns any of
them into the asciicast v2 document the app stores for playback, and ``session_events`` into the
normalised ``base.Event`` objects the evidence pipeline indexes.

Warnings are strings ``"<code>: <detail>"``; the codes are stable (``missing_messages``,
``bad_timing``, ``bad_event_line``, ``truncated_stream`` ...) so the app can map them to controls
(recording gaps -> A.12.4.2 / 8.15) without parsing prose.

No Django here: the module is imported by workers and command-line tools alike.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, NamedTuple, TypeGuard

from evidence.parsers.base import Action, Event, Outcome, ParseContext, ParseError

MAX_SESSION_BYTES = 50 * 1024 * 1024  # decompressed bytes read for one recording (or one tlog input)
MAX_FRAMES = 500_000  # frames kept for one recording (~100 MB of Python objects at worst)
MAX_SESSION_SECONDS = 10 * 366 * 86400  # a frame offset beyond ten years is corrupt, not a long session
MAX_BAD_LINES = 100  # malformed lines skipped (with a warning each) before a recording is rejected
MAX_WARNINGS_PER_CODE = 20  # detailed warnings kept per code; the rest are only counted
DEFAULT_WIDTH, DEFAULT_HEIGHT = 80, 24  # written to asciicast headers when the size is unknown

FRAME_KINDS = frozenset({"o", "i", "r", "m"})  # output, input, resize ("COLSxROWS"), marker
_SURROGATES = re.compile("[\ud800-\udfff]")
_LATEST_EPOCH = 253402300799  # 9999-12-31T23:59:59Z, the last second datetime can hold


class Frame(NamedTuple):
    """One timed chunk of the session: ``at`` seconds from the start, ``kind`` o/i/r/m, ``data``."""

    at: float
    kind: str
    data: str


class CommandLine(NamedTuple):
    """A command line rebuilt from keystrokes; ``at`` is when Enter was pressed (seconds from start)."""

    at: float
    text: str


@dataclass(frozen=True, slots=True)
class SessionRecording:
    """One privileged session, normalised. Attributes are fixed once built (the lists are not copied)."""

    format: str  # "asciicast-v1" | "asciicast-v2" | "asciicast-v3" | "tlog" | "sudo-iolog"
    session_id: str  # tlog "rec", sudo TSID/uuid, or the SHA-256 prefix
    sha256: str  # of the original bytes; ``extra["sha256_of"]`` says which bytes
    user: str = ""
    host: str = ""
    started_at: datetime | None = None  # UTC
    ended_at: datetime | None = None  # UTC; None when the start is unknown
    duration: float = 0.0  # seconds from the start to the last event
    width: int | None = None  # initial terminal columns
    height: int | None = None  # initial terminal rows
    title: str = ""
    command: str = ""  # the recorded command (sudo command line, asciicast "command")
    frames: list[Frame] = field(default_factory=list)
    commands: list[CommandLine] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable values only
    warnings: list[str] = field(default_factory=list)


class WarningLog:
    """Warnings as ``"code: detail"``, at most ``MAX_WARNINGS_PER_CODE`` details per code (all counted)."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._counts: Counter[str] = Counter()

    def add(self, code: str, detail: str = "") -> None:
        self._counts[code] += 1
        if self._counts[code] <= MAX_WARNINGS_PER_CODE:
            self._items.append(f"{code}: {detail}" if detail else code)

    def count(self, code: str) -> int:
        return self._counts[code]

    def extend(self, other: WarningLog) -> None:
        for item in other.as_list():
            code, _, detail = item.partition(": ")
            self.add(code, detail)

    def as_list(self) -> list[str]:
        hidden = [
            f"{code}: {count - MAX_WARNINGS_PER_CODE} more not listed"
            for code, count in self._counts.items()
            if count > MAX_WARNINGS_PER_CODE
        ]
        return self._items + hidden


def warning_codes(recording: SessionRecording) -> list[str]:
    """The distinct warning codes of a recording, sorted."""
    return sorted({item.partition(":")[0] for item in recording.warnings})


# Codes that mean part of the recorded session is missing: evidence of a recording gap.
GAP_WARNINGS = frozenset({"missing_messages", "missing_stream", "truncated_stream"})


def gap_warnings(recording: SessionRecording) -> list[str]:
    """The warnings of a recording that report missing parts, in order."""
    return [item for item in recording.warnings if item.partition(":")[0] in GAP_WARNINGS]


def check_offset(seconds: float) -> float:
    """A frame offset, validated: finite, not negative, not absurdly far (``bad_time`` otherwise)."""
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_SESSION_SECONDS:
        raise ParseError("bad_time", f"offset {seconds!r} seconds is out of range")
    return seconds


def is_number(value: object) -> TypeGuard[int | float]:
    """A JSON number (bool excluded), finite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def epoch_to_utc(value: object) -> datetime | None:
    """Seconds since the Epoch as an aware UTC datetime; None if not a number or out of range."""
    if not is_number(value) or not 0 <= value <= _LATEST_EPOCH:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=float(value))


def scrub_text(text: str) -> str:
    """Replace lone surrogates (from JSON ``\\udXXX`` escapes) so the text can be written as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads_json(text: str | bytes) -> Any:
    """``json.loads`` that refuses NaN/Infinity and reports absurd nesting as ``ValueError``."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


class MeteredReader(io.RawIOBase):
    """Reads ``stream`` while hashing (SHA-256) and counting; more than ``limit`` bytes raises ``reason``."""

    def __init__(self, stream: BinaryIO, limit: int | None = None, reason: str = "session_too_large") -> None:
        super().__init__()
        self._stream, self._reason = stream, reason
        self._limit = MAX_SESSION_BYTES if limit is None else limit
        self._hash = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        size = len(data)
        self.count += size
        if self.count > self._limit:
            raise ParseError(self._reason, f"more than {self._limit} bytes")
        self._hash.update(data)
        buffer[:size] = data
        return size

    def hexdigest(self) -> str:
        """The SHA-256 of everything read so far."""
        return self._hash.hexdigest()

    def drain(self) -> str:
        """Read whatever the parser left unread, so the hash covers the whole input; return the hash."""
        while self.read(256 * 1024):
            pass
        return self.hexdigest()


class FrameBuilder:
    """Collects frames in time order: drops empty data, clamps times that go backwards (with a
    ``time_went_backwards`` warning), and raises ``session_too_large`` beyond ``MAX_FRAMES``."""

    def __init__(self, warnings: WarningLog) -> None:
        self.frames: list[Frame] = []
        self.end = 0.0  # the latest time seen, frames or not (e.g. an asciicast v3 exit event)
        self._last = 0.0
        self._warnings = warnings

    def add(self, at: float, kind: str, data: str) -> None:
        if not data:
            return
        if kind not in FRAME_KINDS:
            raise ValueError(f"unknown frame kind {kind!r}")
        if len(self.frames) >= MAX_FRAMES:
            raise ParseError("session_too_large", f"more than {MAX_FRAMES} frames")
        at = round(check_offset(at), 6)
        if at < self._last:
            self._warnings.add("time_went_backwards", f"{at} after {self._last}; clamped")
            at = self._last
        self.frames.append(Frame(at, kind, scrub_text(data)))
        self._last = at
        self.reach(at)

    def reach(self, at: float) -> None:
        """Note that the session lasted at least until ``at`` (an event that is not a frame)."""
        self.end = max(self.end, round(check_offset(at), 6))


# --- keystroke replay ---------------------------------------------------------------------------

_ENTER = frozenset("\r\n")
_BACKSPACE = frozenset("\x08\x7f")
_CTRL_C, _CTRL_U, _CTRL_W, _ESC = "\x03", "\x15", "\x17", "\x1b"
_STRING_INTRODUCERS = frozenset("]PX^_")  # OSC, DCS, SOS, PM, APC: run until BEL or ESC \


@dataclass(slots=True)
class InputReplay:
    """What the keystrokes typed: echoed command lines, and when unechoed lines (passwords) were entered."""

    commands: list[CommandLine] = field(default_factory=list)
    hidden_at: list[float] = field(default_factory=list)
    hidden_frames: list[int] = field(default_factory=list)  # indexes of the frames that typed them


@dataclass(slots=True)
class _LineEditor:
    """A shell line as readline would hold it, fed one character at a time, escape sequences skipped."""

    chars: list[str] = field(default_factory=list)
    escape: str = ""  # "" | "esc" | "csi" | "ss3" | "string" | "string-esc"
    typed_frames: int = 0  # input frames that added text to this line
    echoed_frames: int = 0  # ... of which the terminal echoed something back
    frame_added: bool = False  # the current input frame added text
    frame_indexes: list[int] = field(default_factory=list)  # the input frames that added text

    def feed(self, char: str) -> str | None:
        """Apply one character; return the finished line (stripped) on Enter, else None."""
        if self.escape and not self._interrupts(char):
            self._skip_escape(char)
            return None
        self.escape = ""
        if char == _ESC:
            self.escape = "esc"
        elif char in _ENTER:
            return "".join(self.chars).strip()
        elif char in _BACKSPACE:
            if self.chars:
                self.chars.pop()
        elif char == _CTRL_U:
            self.chars.clear()
        elif char == _CTRL_W:
            self._delete_word()
        elif char == _CTRL_C:
            self.chars.clear()
            self.typed_frames = self.echoed_frames = 0
            self.frame_added = False
        elif char == "\t" or (char >= " " and not "\x7f" <= char <= "\x9f"):
            self.chars.append(char)
            self.frame_added = True
        return None

    def _interrupts(self, char: str) -> bool:
        """A control character (Enter, Ctrl-C, another ESC) cuts a key sequence short, not a string."""
        return char < " " and self.escape in ("esc", "csi", "ss3")

    def _skip_escape(self, char: str) -> None:
        if self.escape == "esc":
            self.escape = {"[": "csi", "O": "ss3"}.get(char, "string" if char in _STRING_INTRODUCERS else "")
        elif self.escape == "csi":
            if "\x40" <= char <= "\x7e":  # the final byte of a control sequence
                self.escape = ""
        elif self.escape == "ss3":
            self.escape = ""
        elif self.escape == "string":
            if char == "\x07":
                self.escape = ""
            elif char == _ESC:
                self.escape = "string-esc"
        else:  # "string-esc": ESC \\ ends the string; anything else continues it
            self.escape = "" if char == "\\" else "string"

    def _delete_word(self) -> None:
        while self.chars and self.chars[-1].isspace():
            self.chars.pop()
        while self.chars and not self.chars[-1].isspace():
            self.chars.pop()

    def close_frame(self, index: int, echoed: bool) -> None:
        """Count the input frame just applied, if it added text, for the echo statistics."""
        if self.frame_added:
            self.typed_frames += 1
            self.echoed_frames += echoed
            self.frame_indexes.append(index)
            self.frame_added = False

    def next_line(self) -> _LineEditor:
        """A fresh line, still inside whatever escape sequence this one was in."""
        return _LineEditor(escape=self.escape)

    def echoed(self) -> bool:
        """Most of the keystroke frames of this line were followed by output (an echo)."""
        return self.echoed_frames * 2 >= self.typed_frames


def _echo_flags(frames: Sequence[Frame]) -> dict[int, bool]:
    """For each input frame (by index), whether output came before the next input frame.

    Empty when ``frames`` has no output at all: echo is then unknown and every line counts as echoed.
    """
    if not any(frame.kind == "o" for frame in frames):
        return {}
    flags: dict[int, bool] = {}
    pending: int | None = None
    for index, frame in enumerate(frames):
        if frame.kind == "i":
            pending = index
            flags[index] = False
        elif frame.kind == "o" and pending is not None:
            flags[pending] = True
            pending = None
    return flags


def replay_input(frames: Sequence[Frame]) -> InputReplay:
    """Replay the ``"i"`` frames like a line editor and split the lines into echoed commands and
    unechoed (hidden) input.

    Handled: printable characters, backspace/DEL, Ctrl-U (kill line), Ctrl-W (kill word), Ctrl-C
    (cancel the line), Enter (CR or LF ends a line). Escape sequences (arrow keys, function keys,
    bracketed-paste markers, terminal replies) are skipped, so cursor movement and history recall
    are *not* reflected: the text is what was typed, not necessarily what ran. Tab is kept as a
    literal tab (the completion it triggered is only in the output). A line still being typed when
    the recording ends was never run and is not returned.

    When ``frames`` also holds output, a line whose keystroke frames were mostly not followed by
    output (no echo: a password prompt) is reported in ``hidden_at`` instead of ``commands`` so
    that secrets never reach the command index.
    """
    echo = _echo_flags(frames)
    replay, editor = InputReplay(), _LineEditor()
    for index, frame in enumerate(frames):
        if frame.kind != "i":
            continue
        echoed = echo.get(index, True)
        for char in frame.data:
            line = editor.feed(char)
            if line is None:
                continue
            editor.close_frame(index, echoed)
            if line and editor.echoed():
                replay.commands.append(CommandLine(frame.at, line))
            elif line:
                replay.hidden_at.append(frame.at)
                replay.hidden_frames.extend(editor.frame_indexes)
            editor = editor.next_line()
        editor.close_frame(index, echoed)
    return replay


def redact_hidden_input(recording: SessionRecording) -> SessionRecording:
    """A copy of ``recording`` whose unechoed input (see ``replay_input``) is masked with ``*``.

    Recordings keep every keystroke, passwords typed at no-echo prompts included; use this before
    storing or sharing a playback copy. ``sha256`` still names the original bytes, and
    ``extra["redacted_frames"]`` counts the masked frames. Whole frames are masked, so a paste
    that mixed a password with a command loses the command's keystrokes too (never the reverse).
    """
    hidden = set(replay_input(recording.frames).hidden_frames)
    if not hidden:
        return recording
    frames = [
        Frame(frame.at, frame.kind, _mask(frame.data)) if index in hidden else frame
        for index, frame in enumerate(recording.frames)
    ]
    extra = {**recording.extra, "redacted_frames": len(hidden)}
    return dataclasses.replace(recording, frames=frames, extra=extra)


def _mask(text: str) -> str:
    return "".join("*" if char >= " " and char != "\x7f" else char for char in text)


def reconstruct_commands(frames: Sequence[Frame]) -> list[CommandLine]:
    """The command lines typed in ``frames`` (see ``replay_input``; unechoed lines are left out)."""
    return replay_input(frames).commands


# --- building, exporting, indexing ---------------------------------------------------------------


def build_recording(
    *,
    fmt: str,
    sha256: str,
    builder: FrameBuilder,
    warnings: WarningLog,
    session_id: str = "",
    started_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
    **fields: Any,
) -> SessionRecording:
    """Assemble a recording: replay the keystrokes, compute the end, settle warnings and extras."""
    extra = dict(extra or {})
    frames = builder.frames
    commands: list[CommandLine] = []
    if any(frame.kind == "i" for frame in frames):
        replay = replay_input(frames)
        commands = replay.commands
        if replay.hidden_at:
            extra["hidden_input_at"] = replay.hidden_at
            warnings.add(
                "unechoed_input",
                f"{len(replay.hidden_at)} line(s) typed without echo (passwords?) kept out of the command index",
            )
    else:
        warnings.add("no_input_stream", "the recording holds no keystrokes; commands were not reconstructed")
    ended_at = started_at + timedelta(seconds=builder.end) if started_at else None
    return SessionRecording(
        format=fmt,
        session_id=session_id or sha256[:16],
        sha256=sha256,
        started_at=started_at,
        ended_at=ended_at,
        duration=builder.end,
        frames=frames,
        commands=commands,
        extra=extra,
        warnings=warnings.as_list(),
        **fields,
    )


def iter_asciicast_v2(recording: SessionRecording) -> Iterator[bytes]:
    """The asciicast v2 document of ``recording``, line by line (header, then one line per frame)."""
    header: dict[str, Any] = {
        "version": 2,
        "width": recording.width or DEFAULT_WIDTH,
        "height": recording.height or DEFAULT_HEIGHT,
    }
    if recording.started_at is not None:
        header["timestamp"] = int(recording.started_at.timestamp())
    header["duration"] = recording.duration
    if is_number(recording.extra.get("idle_time_limit")):
        header["idle_time_limit"] = recording.extra["idle_time_limit"]
    if recording.command:
        header["command"] = recording.command
    if recording.title:
        header["title"] = recording.title
    env = recording.extra.get("env")
    if isinstance(env, dict):
        header["env"] = {key: value for key, value in env.items() if isinstance(value, str)}
    yield _json_line(header)
    for frame in recording.frames:
        yield _json_line([frame.at, frame.kind, frame.data])


def _json_line(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8") + b"\n"


def to_asciicast_v2(recording: SessionRecording) -> bytes:
    """The recording as an asciicast v2 document (what the app stores for playback)."""
    return b"".join(iter_asciicast_v2(recording))


_PROGRAMS = {"asciicast": "asciinema", "tlog": "tlog-rec-session", "sudo-iolog": "sudo"}


def _program(recording: SessionRecording) -> str:
    return _PROGRAMS.get(recording.format.split("-v")[0], recording.format)


def _at(recording: SessionRecording, offset: float) -> datetime | None:
    return recording.started_at + timedelta(seconds=offset) if recording.started_at else None


def session_events(recording: SessionRecording, context: ParseContext | None = None) -> list[Event]:
    """One ``session_start``, one ``command`` per reconstructed command line and, when the end is
    known, one ``session_end``; all carry the user, host and session id of the recording."""
    host = recording.host or (context.default_host if context else "")
    common: dict[str, Any] = {
        "host": host,
        "program": _program(recording),
        "user": recording.user,
        "target_user": str(recording.extra.get("runas_user", "")),
        "session_id": recording.session_id,
    }
    summary = {
        "format": recording.format,
        "sha256": recording.sha256,
        "duration": recording.duration,
        "frames": len(recording.frames),
        "commands": len(recording.commands),
        "warning_codes": warning_codes(recording),
    }
    label = recording.command or recording.title
    events = [
        Event(
            time=recording.started_at,
            action=Action.SESSION_START,
            outcome=Outcome.SUCCESS,
            command=recording.command,
            message=f"recorded session started{': ' + label if label else ''}",
            extra=summary,
            **common,
        )
    ]
    events.extend(_command_events(recording, common))
    if recording.ended_at is not None:
        events.append(
            Event(
                time=recording.ended_at,
                action=Action.SESSION_END,
                outcome=Outcome.SUCCESS,
                message="recorded session ended",
                extra={"duration": recording.duration, **_exit_extra(recording)},
                **common,
            )
        )
    return events


def _command_events(recording: SessionRecording, common: dict[str, Any]) -> Iterable[Event]:
    for line in recording.commands:
        yield Event(
            time=_at(recording, line.at),
            action=Action.COMMAND,
            outcome=Outcome.UNKNOWN,
            command=line.text,
            message=f"command typed in recorded session: {line.text}",
            extra={"offset": line.at, "format": recording.format},
            **common,
        )


def _exit_extra(recording: SessionRecording) -> dict[str, Any]:
    status = recording.extra.get("exit_status")
    return {"exit_status": status} if status is not None else {}
