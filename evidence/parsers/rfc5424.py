"""The syslog protocol (RFC 5424): ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG``.

Every header field may be the NILVALUE ``-``. STRUCTURED-DATA is ``-`` or one or more
``[SD-ID PARAM="value" ...]`` elements, where a value escapes ``"``, ``\\`` and ``]`` with a backslash;
it lands in ``extra["sd"]`` as ``{sd_id: {param: value}}`` (a repeated parameter becomes a list). MSG may
start with a UTF-8 BOM. Timestamps carry fractional seconds and an offset and are converted to UTC.

Two liberties, both seen in the wild: spaces around ``=`` in a parameter (the RFC's own example 3 has
one) and an unescaped ``]`` inside a quoted value are accepted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from evidence.parsers.auth_messages import apply_classification
from evidence.parsers.base import Event, ParseContext, ParseError
from evidence.parsers.rfc3164 import LineParser, small_number, syslog_priority

NILVALUE = "-"
_HEADER = re.compile(
    r"<(?P<pri>\d{1,3})>(?P<version>\d{1,2})"
    r" (?P<timestamp>\S+) (?P<host>\S+) (?P<app_name>\S+) (?P<procid>\S+) (?P<msgid>\S+)(?= |$)"
)
_PRI = re.compile(r"<\d{1,3}>")
_PRI_AND_VERSION = re.compile(r"<\d{1,3}>1 ")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)")
_SD_NAME = r"[^\s=\]\"]{1,32}"
_SD_VALUE = r'[^"\\]*(?:\\.[^"\\]*)*'  # backslash escapes; unrolled so long values need no regex stack
_SD_ELEMENT = re.compile(rf'\[(?P<id>{_SD_NAME})(?P<params>(?: +{_SD_NAME} *= *"{_SD_VALUE}")*) *\]', re.DOTALL)
_SD_PARAM = re.compile(rf'({_SD_NAME}) *= *"({_SD_VALUE})"', re.DOTALL)
_SD_ESCAPE = re.compile(r"\\([\"\\\]])")  # other backslashes are kept as they are (RFC 5424 section 6.3.3)

StructuredData = dict[str, dict[str, str | list[str]]]


def _header_error(text: str) -> ParseError:
    if not _PRI.match(text):
        return ParseError("bad_pri", f"no <PRI> at the start of {text[:20]!r}")
    if not _PRI_AND_VERSION.match(text):
        return ParseError("bad_version", f"only version 1 is known: {text[:20]!r}")
    return ParseError("bad_header", f"TIMESTAMP HOSTNAME APP-NAME PROCID MSGID expected: {text[:80]!r}")


def _timestamp(value: str) -> datetime | None:
    if value == NILVALUE:
        return None
    if not _TIMESTAMP.fullmatch(value):
        raise ParseError("bad_timestamp", f"not an RFC 5424 timestamp: {value[:40]!r}")
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError as exc:  # e.g. month 13, or a leap second, which RFC 5424 forbids
        raise ParseError("bad_timestamp", f"{value!r}: {exc}") from exc


def parse_structured_data(text: str, position: int) -> tuple[StructuredData | None, int]:
    """The STRUCTURED-DATA starting at ``position`` and where it ends."""
    if text.startswith(NILVALUE, position):
        return None, position + 1
    if not text.startswith("[", position):
        raise ParseError("bad_structured_data", f"expected '-' or '[' at {text[position : position + 20]!r}")
    elements: StructuredData = {}
    while text.startswith("[", position):
        element = _SD_ELEMENT.match(text, position)
        if element is None:
            raise ParseError("bad_structured_data", f"malformed element {text[position : position + 60]!r}")
        params = elements.setdefault(element["id"], {})
        for name, raw_value in _SD_PARAM.findall(element["params"]):
            value = _SD_ESCAPE.sub(r"\1", raw_value)
            if name not in params:
                params[name] = value
            elif isinstance(existing := params[name], list):
                existing.append(value)
            else:
                params[name] = [existing, value]
        position = element.end()
    return elements, position


def parse_message(text: str, context: ParseContext) -> list[Event]:
    """The event of one RFC 5424 message (already decoded), or ``[]`` for a blank line."""
    if not text or text.isspace():
        return []
    header = _HEADER.match(text)
    if header is None:
        raise _header_error(text)
    pri, version, timestamp, host, app_name, procid, msgid = header.groups()
    extra: dict[str, Any] = syslog_priority(pri)
    if version != "1":
        raise ParseError("bad_version", f"only version 1 is known, not {version}")
    time = _timestamp(timestamp)
    if header.end() == len(text):
        raise ParseError("bad_structured_data", "no STRUCTURED-DATA after the header")
    structured_data, end = parse_structured_data(text, header.end() + 1)
    if end < len(text) and text[end] != " ":
        raise ParseError("bad_structured_data", f"unexpected {text[end : end + 20]!r} after STRUCTURED-DATA")
    if structured_data is not None:
        extra["sd"] = structured_data
    if msgid != NILVALUE:
        extra["msgid"] = msgid
    process_id = small_number(procid)
    if procid != NILVALUE and process_id is None:
        extra["procid"] = procid
    event = Event(
        time=time,
        host=host if host != NILVALUE else context.default_host,
        program=app_name if app_name != NILVALUE else "",
        pid=process_id,
        message=text[end + 1 :].removeprefix("\ufeff"),
        extra=extra,
    )
    return [apply_classification(event)]


class Rfc5424Parser(LineParser):
    name: ClassVar[str] = "rfc5424"
    description: ClassVar[str] = "The syslog protocol (RFC 5424), one message per line"

    def parse_text(self, text: str, context: ParseContext) -> list[Event]:
        return parse_message(text, context)


PARSER = Rfc5424Parser()
