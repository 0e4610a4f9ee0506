"""The input formats the pipeline understands, and how each is read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from evidence.parsers import auditd, cef, evtx, journald, ndjson, rfc3164, rfc5424, syslog
from evidence.parsers.base import Parser
from evidence.parsers.sessions import SessionRecording
from evidence.parsers.sessions.asciicast import parse_asciicast
from evidence.parsers.sessions.sudo_iolog import parse_sudo_iolog_archive
from evidence.parsers.sessions.tlog import parse_tlog

ChunkStart = Callable[[bytes, bytes], bool]  # (previous line, next line) -> may a chunk begin here?


def any_line(previous: bytes, line: bytes) -> bool:
    """One record per line: any line starts a chunk."""
    return True


def journal_entry(previous: bytes, line: bytes) -> bool:
    """Every journal entry, in -o json and -o json-pretty alike, starts with "{" in column 0."""
    return line.startswith(b"{")


def new_audit_event(previous: bytes, line: bytes) -> bool:
    """The records of one audit event share ``msg=audit(time:serial)``: cut only where it changes."""
    return auditd.event_id(previous) != auditd.event_id(line)


@dataclass(frozen=True)
class Format:
    name: str
    label: str
    parser: Parser | None = None  # log formats
    sessions: Callable[[BinaryIO], list[SessionRecording]] | None = None  # session recordings
    # Where a file may be cut into chunks: between two lines this allows; None: the file is one
    # chunk (binary formats, session recordings).
    chunk_start: ChunkStart | None = None
    reads_gzip: bool = False  # the parser takes gzip itself (archives); others get it inflated

    @property
    def is_session(self) -> bool:
        return self.sessions is not None


def _one(loader: Callable[[BinaryIO], Any]) -> Callable[[BinaryIO], list[SessionRecording]]:
    return lambda stream: [loader(stream)]


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("syslog", "Syslog file (RFC 3164 or RFC 5424, detected per line)", syslog.PARSER, chunk_start=any_line),
        Format("rfc3164", "Syslog RFC 3164 (BSD: auth.log, messages, secure)", rfc3164.PARSER, chunk_start=any_line),
        Format("rfc5424", "Syslog RFC 5424", rfc5424.PARSER, chunk_start=any_line),
        Format("cef", "ArcSight CEF", cef.PARSER, chunk_start=any_line),
        Format("ndjson", "NDJSON normalised events", ndjson.PARSER, chunk_start=any_line),
        Format(
            "journald",
            "systemd journal JSON (journalctl -o json / json-pretty)",
            journald.PARSER,
            chunk_start=journal_entry,
        ),
        Format("auditd", "Linux audit log (audit.log)", auditd.PARSER, chunk_start=new_audit_event),
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
