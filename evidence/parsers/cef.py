"""ArcSight Common Event Format (CEF) lines, optionally behind a syslog header.

``[syslog header ]CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension``

* header fields escape ``|`` and ``\\`` with a backslash; fewer than seven unescaped pipes, or a
  non-numeric version, is ``bad_cef_header`` (a line without ``CEF:`` at all is ``not_cef``);
* the extension is ``key=value`` pairs separated by spaces; a value runs until the next
  `` key=`` (so values may contain spaces) and escapes ``=``, ``\\``, ``\\n`` and ``\\r``;
  trailing whitespace is dropped;
* the full key names of the specification (``sourceAddress``...) are accepted for the short ones
  (``src``...).

Mapping: ``rt`` (else ``end``, else ``start``; epoch milliseconds or ``MMM dd [yyyy] HH:mm:ss[.SSS]
[zone]``) -> time, falling back to the syslog header's timestamp; ``dhost``/``dvchost``/``shost``
-> host (the destination is the system the event is about; the device, then the source, when it is
absent); ``suser`` -> user, ``duser`` -> target_user, ``src`` -> source_ip; ``act``/``outcome``/
``cat``/Name -> action and outcome when recognisable; ``spriv``/``dpriv`` and the whole record
under ``extra["cef"]``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, BinaryIO, ClassVar, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from evidence.parsers.base import (
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

_HEADER_FIELDS = ("version", "device_vendor", "device_product", "device_version", "signature_id", "name", "severity")
_HEADER_SPLIT_RE = re.compile(r"(?<!\\)((?:\\\\)*)\|")  # an unescaped pipe (after an even run of backslashes)
_HEADER_UNESCAPE_RE = re.compile(r"\\([\\|])")
_EXTENSION_KEY_RE = re.compile(r"(?:^|(?<=\s))([A-Za-z0-9_.\[\]-]+)=")
_EXTENSION_UNESCAPE_RE = re.compile(r"\\([\\=nr])")
_EXTENSION_ESCAPES = {"\\": "\\", "=": "=", "n": "\n", "r": "\r"}

_SYSLOG_RE = re.compile(
    r"^(?:<\d{1,3}>)?(?:1 )?"
    r"(?P<time>[A-Z][a-z]{2} [ \d]\d(?: \d{4})? \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+)"
    r"(?: (?P<host>[^\s:]+))?"
)
_CEF_TIME_RE = re.compile(
    r"(?P<month>[A-Z][a-z]{2}) +(?P<day>\d{1,2})(?: (?P<year>\d{4}))? "
    r"(?P<clock>\d\d:\d\d:\d\d)(?:\.(?P<millis>\d{1,3}))?(?: (?P<zone>\S+))?"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_OFFSET_RE = re.compile(r"(?:UTC|GMT)?([+-])(\d\d):?(\d\d)")

# Full key names of the CEF specification -> the short keys used below.
_KEY_ALIASES = {
    "sourceAddress": "src",
    "destinationAddress": "dst",
    "sourceUserName": "suser",
    "destinationUserName": "duser",
    "sourceHostName": "shost",
    "destinationHostName": "dhost",
    "deviceHostName": "dvchost",
    "receiptTime": "rt",
    "startTime": "start",
    "endTime": "end",
    "deviceAction": "act",
    "eventOutcome": "outcome",
    "deviceEventCategory": "cat",
    "sourceUserPrivileges": "spriv",
    "destinationUserPrivileges": "dpriv",
    "deviceProcessId": "dvcpid",
    "message": "msg",
}
_TIME_KEYS = ("rt", "end", "start")
_HOST_KEYS = ("dhost", "dvchost", "shost")

_T = TypeVar("_T")


def _patterns(table: dict[str, _T]) -> tuple[tuple[re.Pattern[str], _T], ...]:
    return tuple((re.compile(pattern, re.IGNORECASE), result) for pattern, result in table.items())


# Tried in order on cat, act, then the Name: the first pattern that matches decides.
_ACTION_PATTERNS = _patterns(
    {
        r"\blog(?:ged)?[ _-]?(?:off|out)\b|\bsign[ _-]?out": Action.LOGOFF,
        r"\blog[ _-]?(?:on|in)\b|\bsign[ _-]?in\b": Action.LOGON,
        r"authenticat|\bauth\b|credential|kerberos": Action.AUTHENTICATION,
        r"\b(?:log|audit)\s*(?:was\s*)?clear": Action.LOG_CLEARED,
        r"password|\baccount\b|\buser\s*(?:created|deleted|added|removed)|\bgroup\s*member": Action.ACCOUNT_CHANGE,
        r"privilege|\bsudo\b|elevat": Action.PRIVILEGE_USE,
        r"\b(?:process|command)\b|\bexecut": Action.COMMAND,
        r"\bconfiguration\b|\bpolicy\s*change": Action.CONFIG_CHANGE,
    }
)
# Tried in order on outcome, act, then the Name.
_OUTCOME_PATTERNS = _patterns(
    {
        r"\b(?:fail\w*|denied|deny|block\w*|reject\w*|drop\w*|invalid|error)\b": Outcome.FAILURE,
        r"\b(?:success\w*|succeeded|allow\w*|accept\w*|permit\w*|pass(?:ed)?|grant\w*|ok)\b": Outcome.SUCCESS,
    }
)


def _unescape_header(value: str) -> str:
    return _HEADER_UNESCAPE_RE.sub(r"\1", value)


def _unescape_value(value: str) -> str:
    return _EXTENSION_UNESCAPE_RE.sub(lambda match: _EXTENSION_ESCAPES[match[1]], value)


def split_header(text: str) -> tuple[dict[str, str], str]:
    """``Version|...|Severity|Extension`` (after ``CEF:``) -> the seven header fields and the extension."""
    parts: list[str] = []
    position = 0
    for match in _HEADER_SPLIT_RE.finditer(text):
        parts.append(text[position : match.start()] + match[1])
        position = match.end()
        if len(parts) == len(_HEADER_FIELDS):
            break
    if len(parts) == len(_HEADER_FIELDS) - 1 and position > 0:  # "...|Severity" without the last pipe
        parts.append(text[position:])
        position = len(text)
    if len(parts) < len(_HEADER_FIELDS) or not parts[0].strip().isdigit():
        raise ParseError("bad_cef_header", text[:120])
    header = {name: _unescape_header(value) for name, value in zip(_HEADER_FIELDS, parts, strict=True)}
    return header, text[position:]


def parse_extension(text: str) -> tuple[dict[str, str], str]:
    """The key=value pairs of an extension, and any text before the first key (normally none)."""
    matches = list(_EXTENSION_KEY_RE.finditer(text))
    fields: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        fields[match[1]] = _unescape_value(text[match.end() : end].rstrip())
    prefix = text[: matches[0].start()] if matches else text
    return fields, prefix.strip()


def _zone(name: str | None, context: ParseContext) -> tzinfo | None:
    """The zone of a CEF time: its own (name or offset), else the context's; None if unknown."""
    name = name or context.timezone_name
    if name in ("Z", "UTC", "GMT"):
        return UTC
    offset = _OFFSET_RE.fullmatch(name)
    if offset:
        sign = -1 if offset[1] == "-" else 1
        return timezone(sign * timedelta(hours=int(offset[2]), minutes=int(offset[3])))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None  # e.g. "PST": ambiguous abbreviations are not guessed


def _reference(context: ParseContext) -> datetime:
    return context.reference_time or context.received_at


def _month_day_time(
    month: str, day: str, year: str | None, clock: str, micros: int, zone: tzinfo, context: ParseContext
) -> datetime:
    """A calendar time; without a year, the year that puts it closest before the reference time."""
    hour, minute, second = (int(part) for part in clock.split(":"))
    month_number = _MONTHS[month]
    if year:
        return datetime(int(year), month_number, int(day), hour, minute, second, micros, tzinfo=zone)
    reference = _reference(context).astimezone(zone)
    candidate = datetime(reference.year, month_number, int(day), hour, minute, second, micros, tzinfo=zone)
    if candidate - reference > timedelta(days=31):  # e.g. "Dec 31" read on 1 January
        candidate = candidate.replace(year=reference.year - 1)
    return candidate


def parse_cef_time(value: str, context: ParseContext) -> datetime | None:
    """Epoch milliseconds, ``MMM dd [yyyy] HH:mm:ss[.SSS] [zone]`` or ISO 8601; None if unreadable."""
    value = value.strip()
    match = _CEF_TIME_RE.fullmatch(value)
    try:
        if value.isdigit():
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        if match is None:
            parsed = datetime.fromisoformat(value)
            zone = parsed.tzinfo or _zone(None, context)
            return parsed.replace(tzinfo=zone).astimezone(UTC) if zone else None
        zone = _zone(match["zone"], context)
        if match["month"] not in _MONTHS or zone is None:
            return None
        micros = int((match["millis"] or "0").ljust(3, "0")) * 1000
        moment = _month_day_time(match["month"], match["day"], match["year"], match["clock"], micros, zone, context)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _first(fields: dict[str, str], keys: tuple[str, ...]) -> str:
    return next((fields[key] for key in keys if fields.get(key)), "")


def _classify(patterns: tuple[tuple[re.Pattern[str], _T], ...], texts: tuple[str, ...], default: _T) -> _T:
    for text in texts:
        if not text:
            continue
        for pattern, result in patterns:
            if pattern.search(text):
                return result
    return default


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return ""


def _pid(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _syslog(prefix: str, context: ParseContext) -> tuple[datetime | None, str]:
    """Time and host of a syslog header in front of ``CEF:`` (either may be missing)."""
    match = _SYSLOG_RE.match(prefix)
    if match is None:
        return None, ""
    return parse_cef_time(match["time"], context), match["host"] or ""


def _to_event(prefix: str, header: dict[str, str], extension: dict[str, str], context: ParseContext) -> Event:
    fields = {_KEY_ALIASES.get(key, key): value for key, value in extension.items() if key in _KEY_ALIASES}
    fields |= extension  # a short key wins over its long form
    syslog_time, syslog_host = _syslog(prefix, context) if prefix else (None, "")
    time_value = _first(fields, _TIME_KEYS)
    time = parse_cef_time(time_value, context) if time_value else None
    action_texts = (fields.get("cat", ""), fields.get("act", ""), header["name"])
    outcome_texts = (fields.get("outcome", ""), fields.get("act", ""), header["name"])
    extra: dict[str, Any] = {"cef": {**header, "extension": extension}}
    extra |= {key: fields[key] for key in ("spriv", "dpriv", "dst", "cat", "act", "outcome") if fields.get(key)}
    if prefix:
        extra["syslog_prefix"] = prefix
    if time_value and time is None:
        extra["unreadable_time"] = time_value
    return Event(
        time=time or syslog_time,
        host=_first(fields, _HOST_KEYS) or syslog_host or context.default_host,
        program=header["device_product"],
        pid=_pid(fields.get("dvcpid", "")),
        user=fields.get("suser", ""),
        target_user=fields.get("duser", ""),
        source_ip=_ip(fields.get("src", "")),
        action=_classify(_ACTION_PATTERNS, action_texts, Action.OTHER),
        outcome=_classify(_OUTCOME_PATTERNS, outcome_texts, Outcome.UNKNOWN),
        message=fields.get("msg") or header["name"],
        extra=extra,
    )


def parse_line(text: str, context: ParseContext) -> Event:
    """One CEF line (with or without a syslog header) as an ``Event``."""
    start = text.find("CEF:")
    if start < 0:
        raise ParseError("not_cef", text[:80])
    header, extension = split_header(text[start + 4 :])
    fields, stray = parse_extension(extension)
    event = _to_event(text[:start].strip(), header, fields, context)
    if stray:
        event.extra["extension_prefix"] = stray
    return event


class CefParser:
    """``--format cef``: one CEF event per line."""

    name: ClassVar[str] = "cef"
    description: ClassVar[str] = "ArcSight Common Event Format (CEF) lines, with or without a syslog header"

    def records(self, stream: BinaryIO, start_offset: int = 0) -> Iterator[Record]:
        return iter_lines(stream, start_offset)

    def parse(self, record: Record, context: ParseContext) -> list[Event]:
        check_record(record)
        text = decode_text(record.data)
        if not text.strip():
            return []
        return [parse_line(text.rstrip(), context)]


PARSER = CefParser()
