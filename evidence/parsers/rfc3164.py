"""BSD syslog lines (RFC 3164) as written to /var/log/auth.log, /var/log/messages and /var/log/secure.

``[<PRI>]TIMESTAMP HOSTNAME TAG[PID]: MSG``, with the liberties real files take: no PRI, a space after
PRI, a one-digit day padded with one space or not at all, a year or a colon after the time, an upper-case
month, an RFC 3339 timestamp instead of the BSD one (rsyslog's high-precision file format), no host name,
a TAG without colon, macOS's ASL level after the TAG ("sshd[77] <Error>: ", kept as ``level``). The BSD
timestamp has neither year nor zone: the zone comes from ``ParseContext.timezone_name``; the year comes from
the file's year plan (``evidence.parsers.years``: decided across the whole file in file order, never after
the reference time, doubtful dates flagged in ``extra["time_doubtful"]``) and, for a lone message without a
plan, is the one that puts the line at most a day after ``ParseContext.reference_time`` (default:
``received_at``), so a December line read in January belongs to the previous year (and a January line read
on December 31st to the next one). A local time that occurs twice (the hour repeated when daylight saving
time ends) is read as its first occurrence. rsyslog writes control characters as ``#ooo`` (octal); they are
decoded in the message.

This module also holds what the syslog formats share: PRI decoding, the time zone cache, PID parsing and
the line-per-record parser base.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, BinaryIO, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from evidence.parsers import years
from evidence.parsers.auth_messages import apply_classification
from evidence.parsers.base import Event, ParseContext, ParseError, Record, check_record, decode_text, iter_lines

FACILITIES = (
    *("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp"),
    *("security", "console", "solaris-cron"),
    *(f"local{number}" for number in range(8)),
)
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
MAX_PRI = len(FACILITIES) * 8 - 1  # 191

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_LINE = re.compile(
    r"""
    (?:<(?P<pri>\d{1,3})>)?\ ?
    (?:
        (?P<month>[A-Za-z]{3})\ {1,2}(?P<day>\d{1,2})(?:\ (?P<year>\d{4}))?
        \ (?P<hour_minute>\d\d:\d\d):(?P<second>\d\d)(?:\.(?P<fraction>\d{1,6})\d*)?:?
      | (?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?)\d*(?P<offset>Z|[+-]\d\d:\d\d)?
    )
    (?:\ +|$)
    (?:(?P<host>[^\s\[]*[^\s\[:])(?:\ +|$))?  # absent when the first word is already the TAG ("sshd[1]:", "su:")
    (?:(?P<program>[^\s\[:]+)(?:\[(?P<pid>[^\]]*)\])?(?:\ <(?P<level>[A-Z][a-z]{2,8})>)?:?\ ?)?  # macOS: " <Notice>"
    (?P<message>.*)
    """,
    re.VERBOSE | re.DOTALL,
)
_SECONDS = tuple(timedelta(seconds=second) for second in range(60))
_OCTAL_ESCAPE = re.compile(r"#(00[1-7]|0[1-3][0-7]|177)")  # control characters only; never NUL


def small_number(text: str | None) -> int | None:
    """A PID or level: up to ten ASCII digits, else ``None`` (never a ``ValueError`` on odd input)."""
    return int(text) if text and len(text) <= 10 and text.isascii() and text.isdigit() else None


def syslog_priority(pri: str) -> dict[str, str]:
    """``{"facility": "auth", "severity": "info"}`` for the PRI value ``"38"``."""
    value = int(pri)
    if value > MAX_PRI:
        raise ParseError("bad_pri", f"PRI {pri} is above {MAX_PRI}")
    return {"facility": FACILITIES[value >> 3], "severity": SEVERITIES[value & 7]}


@functools.lru_cache(maxsize=64)
def time_zone(name: str) -> tzinfo:
    """The IANA zone ``name`` (cached); an unknown name rejects the record as ``bad_timezone``."""
    if name.upper() in ("UTC", "Z", "ETC/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ParseError("bad_timezone", f"unknown time zone {name!r}") from exc


def to_utc(moment: datetime, context: ParseContext) -> datetime:
    """An aware ``moment`` in UTC; a naive one is local time in the context's zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=time_zone(context.timezone_name))
    return moment.astimezone(UTC)


def decode_octal_escapes(text: str) -> str:
    """rsyslog's ``#011`` (TAB), ``#015`` (CR)... back to the control characters they stand for."""
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match[1], 8)), text) if "#" in text else text


@functools.lru_cache(maxsize=256)
def _latest_local_minute(reference: datetime, zone_name: str) -> tuple[int, int, int, int, int]:
    """The latest local minute a year-less line may have: one day after the reference, as a comparable tuple."""
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=UTC)
    limit = reference.astimezone(time_zone(zone_name)) + timedelta(days=1)
    return (limit.year, limit.month, limit.day, limit.hour, limit.minute)


@functools.lru_cache(maxsize=4096)
def _minute_start(
    month_name: str, day: str, year: str | None, hour_minute: str, zone_name: str, reference: datetime
) -> datetime:
    """The UTC instant a BSD "Mmm dd [yyyy] hh:mm" starts at (lines come in bursts, so this is cached)."""
    month = _MONTHS.get(month_name.lower())
    if month is None:
        raise ParseError("bad_timestamp", f"unknown month {month_name!r}")
    day_number, hour, minute = int(day), int(hour_minute[:2]), int(hour_minute[3:])
    if year:
        year_number = int(year)
    else:
        latest = _latest_local_minute(reference, zone_name)
        year_number = latest[0] if (month, day_number, hour, minute) <= latest[1:] else latest[0] - 1
        if (month, day_number) == (2, 29):
            while not calendar.isleap(year_number):
                year_number -= 1
    try:
        local = datetime(year_number, month, day_number, hour, minute, tzinfo=time_zone(zone_name))
    except ValueError as exc:
        raise ParseError("bad_timestamp", str(exc)) from exc
    return local.astimezone(UTC)


@functools.lru_cache(maxsize=4096)
def _planned_minute_start(
    month_name: str, day: str, year: int, hour_minute: str, zone_name: str, reference: datetime
) -> tuple[datetime, str]:
    """The UTC instant of "Mmm dd hh:mm" in the year the file's plan gave it, and a doubt: a time
    the plan would put after the reference (plus ``years.SLACK``) is read in the year before."""
    month = _MONTHS.get(month_name.lower())
    if month is None:
        raise ParseError("bad_timestamp", f"unknown month {month_name!r}")
    day_number, hour, minute = int(day), int(hour_minute[:2]), int(hour_minute[3:])
    zone = time_zone(zone_name)
    try:
        local = datetime(year, month, day_number, hour, minute, tzinfo=zone)
    except ValueError as exc:
        raise ParseError("bad_timestamp", f"{exc} (year {year}, from the file's order)") from exc
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=UTC)
    if local > reference + years.SLACK:
        try:
            local = local.replace(year=year - 1)
        except ValueError as exc:
            raise ParseError("bad_timestamp", f"{exc} (year {year - 1})") from exc
        return local.astimezone(UTC), "after the reference time in the file's order: read as the year before"
    return local.astimezone(UTC), ""


def _bsd_time(
    month: str, day: str, year: str | None, hour_minute: str, second: str, fraction: str | None, context: ParseContext
) -> tuple[datetime, str]:
    """The instant of a BSD timestamp and why its date is doubtful ("" if it is not). Without a
    year, the file's plan (``context.year``) decides it, else the reference time, line by line."""
    reference = context.reference_time or context.received_at
    doubt = ""
    if year or context.year is None:
        start = _minute_start(month, day, year, hour_minute, context.timezone_name, reference)
    else:
        start, doubt = _planned_minute_start(month, day, context.year, hour_minute, context.timezone_name, reference)
        doubt = context.time_doubt or doubt
    seconds = int(second)
    if seconds > 59:
        raise ParseError("bad_timestamp", f"second {second} out of range")
    # Zones have had whole-minute offsets since the 1970s, so the seconds carry over to UTC unchanged.
    moment = start + _SECONDS[seconds]
    return (moment + timedelta(microseconds=int(fraction.ljust(6, "0"))) if fraction else moment), doubt


def _iso_time(iso: str, offset: str | None, context: ParseContext) -> datetime:
    try:
        moment = datetime.fromisoformat(iso + (offset or ""))
    except ValueError as exc:
        raise ParseError("bad_timestamp", str(exc)) from exc
    return to_utc(moment, context)


def parse_message(text: str, context: ParseContext) -> list[Event]:
    """The event of one RFC 3164 message (already decoded), or ``[]`` for a blank line."""
    line = _LINE.match(text)
    if line is None:
        if not text or text.isspace():
            return []
        raise ParseError("bad_timestamp", f"no RFC 3164 or RFC 3339 timestamp at the start of {text[:40]!r}")
    pri, month, day, year, hour_minute, second, fraction, iso, offset, host, program, pid, level, message = (
        line.groups()
    )
    extra: dict[str, Any] = syslog_priority(pri) if pri else {}
    if level:
        extra["level"] = level
    process_id = small_number(pid)
    if pid and process_id is None:
        extra["procid"] = pid
    if iso:
        time = _iso_time(iso, offset, context)
    else:
        time, doubt = _bsd_time(month, day, year, hour_minute, second, fraction, context)
        if doubt:
            extra["time_doubtful"] = doubt
    event = Event(
        time=time,
        host=host or context.default_host,
        program=program or "",
        pid=process_id,
        message=decode_octal_escapes(message),
        extra=extra,
    )
    return [apply_classification(event)]


def escape_invalid_utf8(data: bytes) -> str:
    """``data`` as UTF-8 with each byte that is not valid UTF-8 written ``\\xNN`` (as sshd and rsyslog escape
    unprintable bytes rather than drop the message); a leading BOM is ignored."""
    return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "backslashreplace")


class LineParser:
    """What the syslog parsers share: a record is a line, checked, decoded as UTF-8 and parsed as text.

    A line with bytes that are not UTF-8 (a Latin-1 user name, a client's junk) is not rejected: the bad bytes
    are escaped, the event is classified as any other and flagged ``extra["invalid_utf8"]``; the raw bytes stay
    in the stored input. Rejecting it would let a client keep its failed login out of the evidence.
    """

    name: ClassVar[str]
    description: ClassVar[str]

    def records(self, stream: BinaryIO, start_offset: int = 0) -> Iterator[Record]:
        return iter_lines(stream, start_offset)

    def parse(self, record: Record, context: ParseContext) -> list[Event]:
        check_record(record)
        try:
            text = decode_text(record.data)
        except ParseError:
            events = self.parse_text(escape_invalid_utf8(record.data), context)
            for event in events:
                event.extra["invalid_utf8"] = True
            return events
        return self.parse_text(text, context)

    def parse_text(self, text: str, context: ParseContext) -> list[Event]:
        raise NotImplementedError


class Rfc3164Parser(LineParser):
    name: ClassVar[str] = "rfc3164"
    description: ClassVar[str] = "BSD syslog lines (RFC 3164): /var/log/auth.log, /var/log/messages, /var/log/secure"

    def parse_text(self, text: str, context: ParseContext) -> list[Event]:
        return parse_message(text, context)


PARSER = Rfc3164Parser()
