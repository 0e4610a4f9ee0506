"""The input formats the pipeline understands, and how each is read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from evidence.parsers import auditd, cef, evtx, journald, ndjson, rfc3164, rfc5424, syslog
from evidence.parsers.base import Parser
from evidence.parsers.sessions import SessionRecording
from evidence.parsers.sessions.asciicast import parse_asciicast
from evidence.parsers.sessions.sudo_iolog import parse_sudo_iolog_archive
from evidence.parsers.sessions.tlog import parse_tlog


@dataclass(frozen=True)
class ChunkCut:
    """Where a file may be cut into chunks: between two lines, when ``allows(behind, ahead)`` for
    the ``window`` lines on each side (fewer at the ends of the file)."""

    allows: Callable[[Sequence[bytes], Sequence[bytes]], bool]
    window: int = 1


def _any_line(behind: Sequence[bytes], ahead: Sequence[bytes]) -> bool:
    return True


def _journal_entry(behind: Sequence[bytes], ahead: Sequence[bytes]) -> bool:
    return ahead[0].startswith(b"{")


def _between_audit_events(behind: Sequence[bytes], ahead: Sequence[bytes]) -> bool:
    before = {auditd.event_id(line) for line in behind}
    return not before & {auditd.event_id(line) for line in ahead} - {None}


ANY_LINE = ChunkCut(_any_line)  # one record per line
JOURNAL_ENTRY = ChunkCut(_journal_entry)  # every entry, -o json or json-pretty, starts with "{" in column 0
# The records of one audit event share ``msg=audit(time:serial)`` and may be interleaved with other
# events' records within the parser's window: cut only where no event has records on both sides.
BETWEEN_AUDIT_EVENTS = ChunkCut(_between_audit_events, window=auditd.DEFAULT_WINDOW)


@dataclass(frozen=True)
class Format:
    name: str
    label: str
    parser: Parser | None = None  # log formats
    sessions: Callable[[BinaryIO], list[SessionRecording]] | None = None  # session recordings
    # Where a file may be cut into chunks: between two lines this allows; None: the file is one
    # chunk (binary formats, session recordings).
    chunk_cut: ChunkCut | None = None
    reads_gzip: bool = False  # the parser takes gzip itself (archives); others get it inflated
    # Timestamps may leave the year out (RFC 3164): it is decided across the file before parsing.
    year_less: bool = False

    @property
    def is_session(self) -> bool:
        return self.sessions is not None


def _one(loader: Callable[[BinaryIO], Any]) -> Callable[[BinaryIO], list[SessionRecording]]:
    return lambda stream: [loader(stream)]


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "syslog",
            "Syslog file (RFC 3164 or RFC 5424, detected per line)",
            syslog.PARSER,
            chunk_cut=ANY_LINE,
            year_less=True,
        ),
        Format(
            "rfc3164",
            "Syslog RFC 3164 (BSD: auth.log, messages, secure)",
            rfc3164.PARSER,
            chunk_cut=ANY_LINE,
            year_less=True,
        ),
        Format("rfc5424", "Syslog RFC 5424", rfc5424.PARSER, chunk_cut=ANY_LINE),
        Format("cef", "ArcSight CEF", cef.PARSER, chunk_cut=ANY_LINE),
        Format("ndjson", "NDJSON normalised events", ndjson.PARSER, chunk_cut=ANY_LINE),
        Format(
            "journald",
            "systemd journal JSON (journalctl -o json / json-pretty)",
            journald.PARSER,
            chunk_cut=JOURNAL_ENTRY,
        ),
        Format("auditd", "Linux audit log (audit.log)", auditd.PARSER, chunk_cut=BETWEEN_AUDIT_EVENTS),
        Format("evtx", "Windows event log (.evtx)", evtx.PARSER),
        Format("asciicast", "Session recording: asciicast v1/v2/v3", sessions=_one(parse_asciicast)),
        Format("tlog", "Session recording: tlog (JSON or journal export)", sessions=parse_tlog),
        Format(
            "sudo-io",
            "Session recording: sudo I/O log directory archive (.tar, .tar.gz, .zip)",
            sessions=parse_sudo_iolog_archive,
            reads_gzip=True,
        ),
    )
}


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError as exc:
        raise ValueError(f"Unknown format {name!r}; use one of: {', '.join(FORMATS)}.") from exc
