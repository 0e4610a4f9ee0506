"""The EVTX parser: field mapping on dicts shaped like pyevtx-rs's JSON rendering, and the byte
accounting of the record walk on small synthetic files (record headers only, no real events)."""

from __future__ import annotations

import io
import json
import struct
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest

from evidence.parsers.base import Action, Event, Outcome, ParseContext, ParseError, Record, Rejected, parse_stream
from evidence.parsers.evtx import PARSER, EvtxOverhead, EvtxUnreadable, map_event

CONTEXT = ParseContext(default_host="fallback-host")
SECURITY = "Microsoft-Windows-Security-Auditing"
SUCCESS_KEYWORDS, FAILURE_KEYWORDS = "0x8020000000000000", "0x8010000000000000"


def document(
    event_id: int | dict[str, Any],
    data: dict[str, Any] | None = None,
    *,
    channel: str = "Security",
    provider: str = SECURITY,
    keywords: str = SUCCESS_KEYWORDS,
    user_data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    system = {
        "Provider": {"#attributes": {"Name": provider, "Guid": "00000000-0000-0000-0000-000000000000"}},
        "EventID": event_id,
        "Version": 0,
        "Level": 0,
        "Keywords": keywords,
        "TimeCreated": {"#attributes": {"SystemTime": "2024-05-06T07:08:09.123456Z"}},
        "EventRecordID": 4242,
        "Execution": {"#attributes": {"ProcessID": 612, "ThreadID": 700}},
        "Channel": channel,
        "Computer": "ws01.corp.example.test",
        "Security": {"#attributes": {"UserID": "S-1-5-18"}},
    }
    event: dict[str, Any] = {"System": system}
    if user_data is not None:
        event["UserData"] = user_data
    else:
        event["EventData"] = data
    return {"Event": event}


def mapped(*args: Any, **kwargs: Any) -> Event:
    return map_event(document(*args, **kwargs), CONTEXT)


SUBJECT = {
    "SubjectUserSid": "S-1-5-21-1111111111-2222222222-3333333333-1104",
    "SubjectUserName": "opsadmin",
    "SubjectDomainName": "CORP",
    "SubjectLogonId": "0x3a7f1",
}


def test_4624_successful_logon():
    event = mapped(
        4624,
        {
            "SubjectUserName": "WS01$",
            "TargetUserName": "jdoe",
            "TargetDomainName": "CORP",
            "TargetLogonId": "0x5b2e10",
            "LogonType": 10,
            "WorkstationName": "LAPTOP-17",
            "IpAddress": "192.0.2.25",
            "IpPort": "51514",
            "ProcessId": "0x2f0",
        },
    )
    assert (event.action, event.outcome) == (Action.LOGON, Outcome.SUCCESS)
    assert (event.user, event.extra["user_domain"], event.session_id) == ("jdoe", "CORP", "0x5b2e10")
    assert event.source_ip == "192.0.2.25"
    assert event.time == datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert event.host == "ws01.corp.example.test"
    assert event.pid == 0x2F0
    assert event.program == SECURITY
    assert event.message.startswith("4624 ")
    extra = event.extra
    assert (extra["event_id"], extra["channel"], extra["provider"], extra["event_record_id"]) == (
        4624,
        "Security",
        SECURITY,
        4242,
    )
    assert (extra["computer"], extra["data"]["LogonType"], extra["data"]["WorkstationName"]) == (
        "ws01.corp.example.test",
        10,
        "LAPTOP-17",
    )


def test_4625_failed_logon_keeps_status_codes():
    event = mapped(
        4625,
        {**SUBJECT, "TargetUserName": "jdoe", "Status": "0xc000006d", "SubStatus": "0xc000006a", "IpAddress": "-"},
        keywords=FAILURE_KEYWORDS,
    )
    assert (event.action, event.outcome, event.user, event.source_ip) == (Action.LOGON, Outcome.FAILURE, "jdoe", "")
    assert (event.extra["data"]["Status"], event.extra["data"]["SubStatus"]) == ("0xc000006d", "0xc000006a")


@pytest.mark.parametrize("event_id", [4634, 4647])
def test_logoff(event_id: int):
    event = mapped(event_id, {"TargetUserName": "jdoe", "TargetDomainName": "CORP", "TargetLogonId": "0x5b2e10"})
    assert (event.action, event.user, event.session_id) == (Action.LOGOFF, "jdoe", "0x5b2e10")


def test_4648_explicit_credentials():
    event = mapped(4648, {**SUBJECT, "TargetUserName": "svc-backup", "TargetServerName": "fs02", "IpAddress": "::1"})
    assert (event.action, event.user, event.target_user) == (Action.AUTHENTICATION, "opsadmin", "svc-backup")
    assert event.source_ip == "::1"
    assert event.outcome is Outcome.SUCCESS  # from the audit-success keyword


@pytest.mark.parametrize("event_id", [4672, 4673, 4674, 4703])
def test_privilege_use(event_id: int):
    event = mapped(event_id, {**SUBJECT, "PrivilegeList": "SeDebugPrivilege", "TargetUserName": "opsadmin"})
    assert (event.action, event.user, event.session_id) == (Action.PRIVILEGE_USE, "opsadmin", "0x3a7f1")


def test_4688_process_creation():
    event = mapped(
        4688,
        {**SUBJECT, "NewProcessId": "0x1a2c", "NewProcessName": "C:\\Windows\\System32\\whoami.exe", "CommandLine": ""},
    )
    assert (event.action, event.command, event.pid) == (Action.COMMAND, "C:\\Windows\\System32\\whoami.exe", 0x1A2C)
    with_line = mapped(4688, {**SUBJECT, "NewProcessName": "C:\\x.exe", "CommandLine": "x.exe /all"})
    assert with_line.command == "x.exe /all"


@pytest.mark.parametrize("event_id", [4720, 4722, 4723, 4724, 4725, 4726, 4738, 4740])
def test_account_changes(event_id: int):
    event = mapped(event_id, {**SUBJECT, "TargetUserName": "newhire", "TargetDomainName": "CORP"})
    assert (event.action, event.user, event.target_user) == (Action.ACCOUNT_CHANGE, "opsadmin", "newhire")


@pytest.mark.parametrize("event_id", [4728, 4732, 4756])
def test_group_membership_targets_the_member(event_id: int):
    data = {**SUBJECT, "MemberName": "-", "MemberSid": "S-1-5-21-1-2-3-501", "TargetUserName": "Administrators"}
    event = mapped(event_id, data)
    assert (event.action, event.target_user) == (Action.ACCOUNT_CHANGE, "S-1-5-21-1-2-3-501")
    assert event.extra["data"]["TargetUserName"] == "Administrators"


def test_1102_security_log_cleared_from_user_data():
    user_data = {"LogFileCleared": {"#attributes": {"xmlns": "http://example.test/ns"}, **SUBJECT}}
    event = mapped(1102, provider="Microsoft-Windows-Eventlog", user_data=user_data)
    assert (event.action, event.user, event.session_id) == (Action.LOG_CLEARED, "opsadmin", "0x3a7f1")
    assert "#attributes" not in event.extra["data"]


def test_system_104_log_cleared():
    user_data = {"LogFileCleared": {"SubjectUserName": "opsadmin", "SubjectDomainName": "CORP", "Channel": "System"}}
    event = mapped(104, channel="System", provider="Microsoft-Windows-Eventlog", user_data=user_data)
    assert (event.action, event.user, event.extra["data"]["Channel"]) == (Action.LOG_CLEARED, "opsadmin", "System")
    other_provider = mapped(104, channel="System", provider="Some-Driver", user_data=user_data)
    assert other_provider.action is Action.OTHER


def test_4616_clock_change():
    data = {**SUBJECT, "PreviousTime": "2024-05-06T07:00:00Z", "NewTime": "2024-05-06T09:00:00Z"}
    event = mapped(4616, data)
    assert (event.action, event.user) == (Action.CLOCK_CHANGE, "opsadmin")
    assert event.extra["data"]["NewTime"] == "2024-05-06T09:00:00Z"


@pytest.mark.parametrize(
    ("event_id", "status", "outcome"),
    [
        (4771, "0x18", Outcome.FAILURE),
        (4776, "0x0", Outcome.SUCCESS),
        (4776, "0xc000006a", Outcome.FAILURE),
        (4768, "0x6", Outcome.FAILURE),
        (4768, "0x0", Outcome.SUCCESS),
    ],
)
def test_kerberos_and_credential_validation(event_id: int, status: str, outcome: Outcome):
    event = mapped(event_id, {"TargetUserName": "jdoe", "Status": status, "IpAddress": "::ffff:198.51.100.23"})
    assert (event.action, event.outcome, event.user) == (Action.AUTHENTICATION, outcome, "jdoe")
    assert event.source_ip == "198.51.100.23"


def test_terminal_services_1149_rdp_authentication():
    user_data = {"EventXML": {"Param1": "jdoe", "Param2": "CORP", "Param3": "203.0.113.50"}}
    channel = "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"
    event = mapped(
        1149,
        channel=channel,
        provider="Microsoft-Windows-TerminalServices-RemoteConnectionManager",
        user_data=user_data,
    )
    assert (event.action, event.outcome, event.user) == (Action.AUTHENTICATION, Outcome.SUCCESS, "jdoe")
    assert (event.source_ip, event.extra["user_domain"]) == ("203.0.113.50", "CORP")


def test_mssql_18456_failed_login_from_unnamed_strings():
    strings = ["reporting", " Reason: Password did not match that for the login provided.", " [CLIENT: 192.0.2.200]"]
    event = mapped(
        {"#attributes": {"Qualifiers": 49152}, "#text": 18456},
        {"Data": {"#text": strings}, "Binary": "00FF"},
        channel="Application",
        provider="MSSQL$REPORTS",
        keywords="0x90000000000000",
    )
    assert (event.action, event.outcome, event.user, event.source_ip) == (
        Action.AUTHENTICATION,
        Outcome.FAILURE,
        "reporting",
        "192.0.2.200",
    )
    assert event.extra["event_id"] == 18456
    assert event.extra["data"]["Data"] == strings


def test_unknown_events_are_other_with_the_audit_keyword_outcome():
    event = mapped(5156, {"Application": "svchost.exe"}, keywords=FAILURE_KEYWORDS)
    assert (event.action, event.outcome, event.user) == (Action.OTHER, Outcome.FAILURE, "")
    assert event.pid == 612  # the logging process, for want of a better one
    assert event.message == f"{SECURITY} event 5156"
    no_data = mapped(7, None, channel="System", provider="Disk", keywords="0x80000000000000")
    assert (no_data.outcome, no_data.extra["data"]) == (Outcome.UNKNOWN, {})


def test_documents_without_event_or_event_id_are_rejected():
    with pytest.raises(ParseError) as raised:
        map_event({"Nope": {}}, CONTEXT)
    assert raised.value.reason == "bad_evtx_event"
    broken = document(4624, {})
    broken["Event"]["System"]["EventID"] = None
    with pytest.raises(ParseError):
        map_event(broken, CONTEXT)


# --- records and parse ------------------------------------------------------------------------


def wrapped(doc: dict[str, Any]) -> bytes:
    return json.dumps({"record_id": 4242, "chunk": 0, "checksum_ok": True, "written": "", "event": doc}).encode()


def test_parse_reads_only_the_record_data():
    [event] = PARSER.parse(Record(8192, wrapped(document(4624, {"TargetUserName": "jdoe"})), 1, 600), CONTEXT)
    assert (event.user, event.extra["chunk_checksum_ok"]) == ("jdoe", True)


def test_parse_of_unreadable_overhead_and_foreign_records():
    with pytest.raises(ParseError) as raised:
        PARSER.parse(EvtxUnreadable(4096, b"\x01\x02", 1, 2, "corrupt_chunk", "bad magic"), CONTEXT)
    assert (raised.value.reason, raised.value.detail) == ("corrupt_chunk", "bad magic")
    assert PARSER.parse(EvtxOverhead(0, b"", 0, 4096), CONTEXT) == []
    for data in (b"\x2a\x2a\x00\x00binary", b"[1, 2]", b"\xff\xfe"):
        with pytest.raises(ParseError) as raised:
            PARSER.parse(Record(0, data), CONTEXT)
        assert raised.value.reason == "not_evtx_record"


@pytest.mark.parametrize("data", [b"This is not an event log\n" * 50, b"ElfFile\x00" + b"\x00" * 100])
def test_non_evtx_input_is_one_rejected_record(data: bytes):
    items = list(parse_stream(PARSER, io.BytesIO(data), CONTEXT))
    assert len(items) == 1
    assert isinstance(items[0], Rejected)
    assert (items[0].reason, items[0].record.length, items[0].record.offset) == ("not_evtx", len(data), 0)


def test_empty_input_has_no_records():
    assert list(PARSER.records(io.BytesIO(b""))) == []


class Unseekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_unseekable_streams_are_spooled():
    [record] = PARSER.records(Unseekable(b"not evtx at all"))  # type: ignore[arg-type]
    assert (record.length, record.data) == (15, b"not evtx at all")


# Synthetic files: valid file and chunk headers around record *headers* with filler payloads, to
# exercise the walk and the accounting (the renderer's view of the filler does not matter here).


def binary_record(record_id: int, payload: bytes = b"\x00" * 40) -> bytes:
    size = 24 + len(payload) + 4
    return b"**\x00\x00" + struct.pack("<IQQ", size, record_id, 0) + payload + struct.pack("<I", size)


def chunk(body: bytes, first: int = 1, last: int = 3) -> bytes:
    header = bytearray(512)
    header[:8] = b"ElfChnk\x00"
    struct.pack_into("<QQQQIII", header, 8, first, last, first, last, 128, 512, 512 + len(body))
    struct.pack_into("<I", header, 52, zlib.crc32(body))
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120]) + bytes(header[128:])))
    return (bytes(header) + body).ljust(65536, b"\x00")


def evtx_file(*chunks: bytes) -> bytes:
    header = bytearray(4096)
    header[:8] = b"ElfFile\x00"
    struct.pack_into("<QQQIHHHH", header, 8, 0, len(chunks) - 1, 100, 128, 1, 3, 4096, len(chunks))
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    return bytes(header) + b"".join(chunks)


def accounting(data: bytes) -> tuple[list[Record], list[Event | Rejected]]:
    split = list(PARSER.records(io.BytesIO(data)))
    assert sum(record.length for record in split) == len(data)
    assert isinstance(split[-1], EvtxOverhead)
    return split, list(parse_stream(PARSER, io.BytesIO(data), CONTEXT))


def test_records_are_found_at_their_offsets_and_overhead_closes_the_account():
    records = [binary_record(n) for n in (1, 2, 3)]
    data = evtx_file(chunk(b"".join(records)), b"\x00" * 65536)
    split, items = accounting(data)
    assert [(record.offset, record.length) for record in split[:-1]] == [(4608, 68), (4676, 68), (4744, 68)]
    assert split[-1].length == len(data) - 3 * 68
    assert len(items) == 3  # each walked record gives an event or a rejection


def test_damaged_bytes_between_records_are_rejected_and_the_walk_resumes():
    body = binary_record(1) + b"\xde\xad\xbe\xef" * 10 + binary_record(2)
    split, items = accounting(evtx_file(chunk(body, last=2)))
    assert [(record.offset, record.length) for record in split[:-1]] == [(4608, 68), (4676, 40), (4716, 68)]
    gap = split[1]
    assert isinstance(gap, EvtxUnreadable)
    assert (gap.reason, gap.data) == ("corrupt_record", b"\xde\xad\xbe\xef" * 10)
    assert len(items) == 3  # the record after the damage is found (rendered or not, it is accounted for)


def test_a_truncated_chunk_is_rejected_up_to_the_end_of_the_file():
    full = evtx_file(chunk(b"".join(binary_record(n) for n in (1, 2, 3))))
    cut = full[: 4096 + 512 + 68 + 30]
    split, items = accounting(cut)
    reasons = [(record.offset, record.length, record.reason) for record in split if isinstance(record, EvtxUnreadable)]
    assert reasons == [(4608, 68, "truncated_chunk"), (4676, 30, "truncated_chunk")]
    assert all(isinstance(item, Rejected) for item in items)


def test_a_chunk_with_a_corrupt_header_is_rejected():
    bad = bytearray(chunk(binary_record(1)))
    bad[:8] = b"NotChnk!"
    split, items = accounting(evtx_file(bytes(bad)))
    assert {record.reason for record in split if isinstance(record, EvtxUnreadable)} == {"corrupt_chunk"}
    assert {item.reason for item in items if isinstance(item, Rejected)} == {"corrupt_chunk"}


def test_a_record_rendered_but_not_walked_is_still_yielded_with_its_record_id_as_offset():
    second = bytearray(binary_record(2))
    second[-4:] = b"\x00\x00\x00\x00"  # its size is not repeated at its end: not a well-formed record for the walk
    split, items = accounting(evtx_file(chunk(binary_record(1) + bytes(second) + binary_record(3))))
    gap = [record for record in split if isinstance(record, EvtxUnreadable)]
    assert [(record.offset, record.length) for record in gap] == [(4608 + 68, 68)]
    strays = [record for record in split if b'"offset_is_record_id": true' in record.data]
    assert [(record.offset, record.length) for record in strays] == [(2, 0)]  # the renderer was less strict
    assert len(items) == len(split) - 1
