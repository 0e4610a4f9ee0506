"""Syslog of either kind, decided per line: ``<PRI>1 `` starts an RFC 5424 message, anything else is RFC 3164.

Files mix both when a relay forwards for senders of different ages; the network receiver gets whatever
each sender speaks. ``parse_syslog_frame`` is the receiver's entry point: one UDP datagram, or one TCP
frame once RFC 6587 framing (octet counting or a trailer) has been removed.
"""

from __future__ import annotations

import re
from typing import ClassVar

from evidence.parsers import rfc3164, rfc5424
from evidence.parsers.base import MAX_LINE_BYTES, Event, OversizedRecord, ParseContext, Record

# Any one- or two-digit version goes to the RFC 5424 parser, which rejects all but 1 as "bad_version";
# an RFC 3164 line never has a digit and a space right after PRI (its timestamp starts "Mmm " or "yyyy-").
_RFC5424_START = re.compile(rb"<\d{1,3}>\d{1,2} ")
_FRAME_TRAILER = b"\r\n\x00"  # LF, CRLF or NUL, as non-transparent framing senders append them


class SyslogParser(rfc3164.LineParser):
    name: ClassVar[str] = "syslog"
    description: ClassVar[str] = "Syslog lines, RFC 5424 or RFC 3164, detected per line"

    def parse(self, record: Record, context: ParseContext) -> list[Event]:
        parser = rfc5424.PARSER if _RFC5424_START.match(record.data) else rfc3164.PARSER
        return parser.parse(record, context)


PARSER = SyslogParser()


def parse_syslog_frame(data: bytes, context: ParseContext) -> list[Event]:
    """The events of one network syslog message (raises ``ParseError`` like ``Parser.parse``).

    Trailing LF/CR/NUL bytes are framing, not message; a frame above ``MAX_LINE_BYTES`` is rejected as
    ``line_too_long``. The events' ``raw_offset``/``raw_length`` cover the whole frame.
    """
    message = data.rstrip(_FRAME_TRAILER)
    if len(message) > MAX_LINE_BYTES:
        record: Record = OversizedRecord(0, message[:MAX_LINE_BYTES], 1, len(data))
    else:
        record = Record(0, message, 1, len(data))
    events = PARSER.parse(record, context)
    for event in events:
        event.raw_offset, event.raw_length = record.offset, record.length
    return events
