"""The auditd, CEF and EVTX parsers over the shared sample corpus (../shared/samples; see each README.txt).

- go-libaudit/: raw audit.log lines (auparse/testdata/*.log with per-record ``*.golden`` parses),
  multi-record events (aucoalesce/testdata/*.yaml with ``*.json.golden`` normalised events) and
  reassembly edge cases (testdata/: normal, out_of_order, lost_messages, rollover).
- laurel-auditd/: raw logs (incl. ENRICHED, node=, hex arguments, split EXECVE arguments,
  re-ordered traces) with LAUREL's JSON rendering of some of them.
- elastic-beats/cef.log: four CEF lines.
- evtx-attack-samples/, python-evtx/: .evtx files (one with a malformed record) and DERIVED-xml/,
  python-evtx's XML rendering of two of them.

Accounting holds everywhere: the records' lengths sum to the file size, and every record gives
events or exactly one rejection.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ElementTree
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evidence.parsers import auditd, cef, evtx
from evidence.parsers.base import Action, Event, Outcome, ParseContext, ParseError, Record, Rejected
from tests.conftest import SAMPLES

pytestmark = pytest.mark.samples

GO_LIBAUDIT = SAMPLES / "go-libaudit"
LAUREL = SAMPLES / "laurel-auditd"
ATTACK = SAMPLES / "evtx-attack-samples"
PYTHON_EVTX = SAMPLES / "python-evtx"
CONTEXT = ParseContext()
LOGIN_ACTIONS = {Action.LOGON, Action.LOGOFF, Action.AUTHENTICATION, Action.SESSION_START, Action.SESSION_END} | {
    Action.ACCOUNT_CHANGE
}
AUDIT_LINE = re.compile(rb"type=\S+ (?:msg=)?audit\(\d+\.\d+:\d+\)")


def sample_files(directory: Path, *patterns: str) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(path for pattern in patterns for path in directory.glob(pattern) if path.name != "README.txt")


def parse_all(parser: Any, data: bytes) -> list[tuple[Record, list[Event] | Rejected]]:
    """Every record with its events or its rejection, checking the accounting on the way."""
    results: list[tuple[Record, list[Event] | Rejected]] = []
    for record in parser.records(io.BytesIO(data)):
        try:
            results.append((record, parser.parse(record, CONTEXT)))
        except ParseError as exc:
            results.append((record, Rejected(record, exc.reason, exc.detail)))
    assert sum(record.length for record, _ in results) == len(data)
    return results


def events_of(results: list[tuple[Record, list[Event] | Rejected]]) -> list[Event]:
    return [event for _, outcome in results if isinstance(outcome, list) for event in outcome]


def rejections(results: list[tuple[Record, list[Event] | Rejected]]) -> Counter[str]:
    return Counter(outcome.reason for _, outcome in results if isinstance(outcome, Rejected))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- auditd -----------------------------------------------------------------------------------

AUDIT_SAMPLES = sample_files(GO_LIBAUDIT, "**/*.log") + sample_files(LAUREL, "*.txt")


def audit_results(path: Path) -> list[tuple[Record, list[Event] | Rejected]]:
    return parse_all(auditd.PARSER, path.read_bytes())


@pytest.mark.parametrize("path", AUDIT_SAMPLES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_audit_sample_is_fully_accounted_for(path: Path) -> None:
    data = path.read_bytes()
    results = audit_results(path)
    offsets = [record.offset for record, _ in results]
    assert offsets == sorted(offsets)
    audit_lines = [line for line in data.splitlines() if AUDIT_LINE.search(line)]
    events = events_of(results)
    assert all(len(outcome) <= 1 for _, outcome in results if isinstance(outcome, list))
    assert sum(len(event.extra["record_types"]) for event in events) == len(audit_lines)
    for record, outcome in results:
        if isinstance(outcome, Rejected):  # comments of the test files and "type=UNKNOWN[1329] msg=?"
            assert outcome.reason == "not_audit_record"
            assert not AUDIT_LINE.search(record.data)
        elif not outcome:  # blank lines and end-of-event markers alone
            assert not record.data.strip() or record.data.startswith(b"type=EOE ")
        json.dumps(outcome if isinstance(outcome, Rejected) else [event.extra for event in outcome], default=str)


AUPARSE_GOLDEN = sample_files(GO_LIBAUDIT / "auparse" / "testdata", "*.log")


@pytest.mark.parametrize("path", AUPARSE_GOLDEN, ids=lambda path: path.name)
def test_auparse_goldens_agree_on_records_times_and_decoded_values(path: Path) -> None:
    golden = json.loads(path.with_name(path.name + ".golden").read_text())
    results = audit_results(path)
    events = {event.extra["serial"]: event for event in events_of(results)}
    parsed = [entry for entry in golden if entry is not None]
    assert sum(len(event.extra["record_types"]) for event in events.values()) == len(parsed)
    assert rejections(results)["not_audit_record"] == golden.count(None)
    assert {entry["sequence"] for entry in parsed} == set(events)
    for entry in parsed:
        event, data = events[entry["sequence"]], entry["data"]
        assert event.time == utc(entry["@timestamp"])
        if entry["record_type"] == "user_cmd":
            assert event.command == data["cmd"]
        if entry["record_type"].startswith("user_") and "acct" in data:
            assert event.target_user == data["acct"]
        if entry["record_type"] == "cwd":
            assert event.extra["cwd"] == data["cwd"]


def test_audit_rhel7_known_events() -> None:
    events = events_of(audit_results(GO_LIBAUDIT / "auparse" / "testdata" / "audit-rhel7.log"))
    by_type = {event.extra["record_types"][0]: event for event in events}
    login = by_type["USER_LOGIN"]
    assert (login.action, login.outcome, login.user, login.source_ip) == (
        Action.LOGON,
        Outcome.SUCCESS,
        "1000",
        "96.241.146.97",
    )
    assert by_type["ADD_USER"].action is Action.ACCOUNT_CHANGE
    assert by_type["USER_CMD"].command == "./metricbeat -c mb.dev.yml"
    assert by_type["USYS_CONFIG"].action is Action.CLOCK_CHANGE
    assert by_type["USER_ERR"].outcome is Outcome.FAILURE
    assert {event.extra.get("cwd") for event in events} >= {"/tmp/a b c", "/home/andrew_kroh"}


def test_failed_ssh_login_with_hex_encoded_account() -> None:
    events = events_of(audit_results(GO_LIBAUDIT / "auparse" / "testdata" / "audit-ubuntu16.log"))
    failed = [event for event in events if event.outcome is Outcome.FAILURE]
    assert [(event.action, event.target_user, event.source_ip) for event in failed] == [
        (Action.LOGON, "(invalid user)", "179.38.151.221")
    ]


def audit_ids(path: Path) -> dict[str, list[str]]:
    return {event.extra["audit_id"]: sorted(event.extra["record_types"]) for event in events_of(audit_results(path))}


def test_out_of_order_records_give_the_same_events_as_in_order_ones() -> None:
    testdata = GO_LIBAUDIT / "testdata"
    normal = audit_ids(testdata / "normal.log")
    assert len(normal) == 5
    assert audit_ids(testdata / "out_of_order.log") == normal
    assert len(audit_ids(testdata / "lost_messages.log")) == 5
    rollover = [int(audit_id.split(":")[1]) for audit_id in audit_ids(testdata / "rollover.log")]
    assert rollover[:4] == [4294967294, 4294967295, 0, 1]


def test_reordered_trace_joins_like_the_ordered_one() -> None:
    assert audit_ids(LAUREL / "shell-proc-trace-reordered.txt") == audit_ids(LAUREL / "shell-proc-trace.txt")


def aucoalesce_cases() -> list[tuple[Path, str]]:
    return [
        (path, name)
        for path in sample_files(GO_LIBAUDIT / "aucoalesce" / "testdata", "*.yaml")
        for name in _yaml(path)["tests"]
    ]


def _yaml(path: Path) -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize(("path", "name"), aucoalesce_cases(), ids=lambda value: getattr(value, "name", value))
def test_aucoalesce_events_agree_with_their_goldens(path: Path, name: str) -> None:
    text = _yaml(path)["tests"][name]
    golden = {item["test_name"]: item["event"] for item in json.loads(path.with_suffix(".json.golden").read_text())}
    expected = golden[name]
    [event] = events_of(parse_all(auditd.PARSER, text.encode()))
    assert event.extra["serial"] == expected["sequence"]
    assert event.time == utc(expected["@timestamp"])
    assert event.outcome.value == {"success": "success", "fail": "failure"}.get(expected.get("result"), "unknown")
    syscall = expected.get("data", {}).get("syscall")
    if syscall and not event.extra["syscall"].isdigit():  # only some syscall numbers are named here
        assert event.extra["syscall"] == syscall
    if title := expected.get("process", {}).get("title"):
        assert " ".join(event.extra["proctitle"]) == title
    if expected.get("category") == "user-login":  # go-libaudit files password changes there too
        assert event.action in LOGIN_ACTIONS
    if expected.get("category") == "configuration":
        assert event.action is Action.CONFIG_CHANGE


def laurel_renderings() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, json.loads(line))
        for path in sample_files(LAUREL, "*.json")
        for line in path.read_text().splitlines()
        if line.strip()
    ]


@pytest.mark.parametrize(("path", "rendering"), laurel_renderings(), ids=lambda value: getattr(value, "name", ""))
def test_laurel_renderings_agree(path: Path, rendering: dict[str, Any]) -> None:
    events = {event.extra["audit_id"]: event for event in events_of(audit_results(path.with_suffix(".txt")))}
    event = events[rendering["ID"]]
    kinds = {key for key in rendering if key.isupper() and key not in ("ID", "NODE")}
    assert kinds <= set(event.extra["record_types"])
    if "NODE" in rendering:
        assert event.host == rendering["NODE"]
    if "EXECVE" in rendering:  # LAUREL truncates long arguments
        assert len(event.extra["argv"]) == len(rendering["EXECVE"]["ARGV"])
        for ours, theirs in zip(event.extra["argv"], rendering["EXECVE"]["ARGV"], strict=True):
            assert ours.startswith(theirs)
    if "PROCTITLE" in rendering:
        assert event.extra["proctitle"] == rendering["PROCTITLE"]["ARGV"]
    syscall = rendering.get("SYSCALL", {})
    if "SYSCALL" in syscall:
        assert event.extra["syscall"] == syscall["SYSCALL"]
    if syscall.get("exe"):
        assert event.extra["exe"] == syscall["exe"]
    if syscall.get("key"):
        assert event.extra["key"] == [syscall["key"]]
    if "AUID" in syscall and syscall["AUID"] != "unset":
        assert event.user == syscall["AUID"]
    if "CWD" in rendering:
        assert event.extra["cwd"] == rendering["CWD"]["cwd"]


def test_laurel_known_events() -> None:
    def only(name: str) -> Event:
        [event] = events_of(audit_results(LAUREL / name))
        return event

    shell = only("record-perl-reverse-shell.txt")
    assert (shell.action, shell.user, shell.target_user) == (Action.COMMAND, "user", "root")
    assert shell.command.startswith("perl -e use Socket;")
    long_argument = only("record-execve-long.txt")
    assert [len(argument) for argument in long_argument.extra["argv"]] == [9, 8192]  # a1_len=16384 hex digits
    assert only("record-adjntpval.txt").action is Action.CLOCK_CHANGE
    login = only("record-login.txt")
    assert (login.action, login.user, login.session_id) == (Action.SESSION_START, "root", "325")
    assert only("line-user-acct.txt").user == "user"
    assert only("record-execve.txt").host == "work"
    assert only("record-service-start.txt").action is Action.SERVICE
    assert only("record-anom-promiscuous.txt").extra["anomalies"][0]["dev"] == "veth5f40f62"
    connects = events_of(audit_results(LAUREL / "record-connect.txt"))
    assert connects[0].extra["sockaddr"] == [{"family": "inet", "addr": "127.0.0.1", "port": 11211}]


# --- CEF --------------------------------------------------------------------------------------


def test_elastic_cef_sample() -> None:
    results = parse_all(cef.PARSER, (SAMPLES / "elastic-beats" / "cef.log").read_bytes())
    assert not rejections(results)
    web, login, privileges, padded = events_of(results)
    assert (web.action, web.source_ip, web.extra["cef"]["extension"]["request"]) == (
        Action.OTHER,
        "1.128.3.4",
        "https://www.example.com/cart",
    )
    assert (login.action, login.user, login.target_user, login.source_ip) == (
        Action.AUTHENTICATION,
        "bob",
        "alice",
        "1.128.3.4",
    )
    assert (privileges.extra["spriv"], privileges.extra["dpriv"]) == ("user", "root")
    assert padded.message == "This event is padded with whitespace"
    assert padded.extra["cef"]["extension"]["src"] == "192.168.3.4"
    assert {event.extra["cef"]["device_product"] for event in (web, login, privileges, padded)} == {"Vaporware"}


# --- EVTX -------------------------------------------------------------------------------------

EVTX_FILES = sample_files(ATTACK, "*.evtx") + sample_files(PYTHON_EVTX, "*.evtx")


def evtx_results(path: Path) -> list[tuple[Record, list[Event] | Rejected]]:
    with path.open("rb") as stream:
        data = stream.read()
    return parse_all(evtx.PARSER, data)


@pytest.mark.parametrize("path", EVTX_FILES, ids=lambda path: path.name)
def test_every_evtx_sample_is_fully_accounted_for(path: Path) -> None:
    results = evtx_results(path)
    assert isinstance(results[-1][0], evtx.EvtxOverhead)
    assert not rejections(results)
    events = events_of(results)
    assert all(len(outcome) == 1 for record, outcome in results[:-1])
    assert all(event.time is not None and event.extra["chunk_checksum_ok"] for event in events)
    record_ids = [event.extra["event_record_id"] for event in events]
    assert len(set(record_ids)) == len(record_ids)
    with path.open("rb") as stream:  # a path-backed stream works the same
        assert sum(record.length for record in evtx.PARSER.records(stream)) == path.stat().st_size


def event_ids(path: Path) -> Counter[int]:
    return Counter(event.extra["event_id"] for event in events_of(evtx_results(path)))


def test_evtx_record_counts_match_the_readmes() -> None:
    security = event_ids(PYTHON_EVTX / "security.evtx")
    assert (sum(security.values()), security[4624], security[4672]) == (2261, 583, 459)
    assert sum(event_ids(PYTHON_EVTX / "system.evtx").values()) == 1601
    assert event_ids(PYTHON_EVTX / "issue_38.evtx") == Counter({4672: 1})
    assert sum(event_ids(PYTHON_EVTX / "dns_log_malformed.evtx").values()) == 5  # python-evtx fails on it
    assert event_ids(ATTACK / "DE_1102_security_log_cleared.evtx") == Counter({4663: 110, 1102: 1, 5156: 1})
    assert event_ids(ATTACK / "MSSQL_multiple_failed_logon_EventID_18456.evtx") == Counter({18456: 10})


def test_security_log_cleared() -> None:
    events = events_of(evtx_results(ATTACK / "DE_1102_security_log_cleared.evtx"))
    [cleared] = [event for event in events if event.action is Action.LOG_CLEARED]
    assert (cleared.extra["event_id"], cleared.user, cleared.host) == (1102, "user01", "PC01.example.corp")
    [system_cleared] = events_of(evtx_results(ATTACK / "DE_104_system_log_cleared.evtx"))
    assert (system_cleared.action, system_cleared.extra["channel"]) == (Action.LOG_CLEARED, "System")


def test_logon_failures_and_successes() -> None:
    events = events_of(evtx_results(ATTACK / "CA_4624_4625_LogonType2_LogonProc_chrome.evtx"))
    failures = [event for event in events if event.outcome is Outcome.FAILURE]
    assert [(event.action, event.user, event.extra["data"]["SubStatus"]) for event in failures] == [
        (Action.LOGON, "IEUser", "0xc000006a")
    ]
    assert sum(event.action is Action.LOGON and event.outcome is Outcome.SUCCESS for event in events) == 3


def test_kerberos_password_spray_gives_authentication_failures() -> None:
    events = events_of(evtx_results(ATTACK / "kerberos_pwd_spray_4771.evtx"))
    failed = [event for event in events if event.action is Action.AUTHENTICATION and event.outcome is Outcome.FAILURE]
    assert {event.extra["event_id"] for event in failed} == {4768, 4771}
    assert {event.user for event in failed if event.extra["event_id"] == 4771} == {"Administrator", "backdoor"}
    assert {event.source_ip for event in failed} == {"172.16.66.1"}


def test_other_attack_samples() -> None:
    def of(name: str) -> list[Event]:
        return events_of(evtx_results(ATTACK / name))

    mssql = of("MSSQL_multiple_failed_logon_EventID_18456.evtx")
    assert {(event.action, event.outcome, event.source_ip) for event in mssql} == {
        (Action.AUTHENTICATION, Outcome.FAILURE, "10.0.2.17")
    }
    assert "sa" in {event.user for event in mssql}
    rdp = [
        event
        for event in of("DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149.evtx")
        if event.extra["event_id"] == 1149
    ]
    assert len(rdp) == 11
    assert all(event.action is Action.AUTHENTICATION and event.user and event.source_ip for event in rdp)
    assert {event.action for event in of("DE_Fake_ComputerAccount_4720.evtx")} == {Action.ACCOUNT_CHANGE}
    [guest, *_] = of("Network_Service_Guest_added_to_admins_4732.evtx")
    assert (guest.action, guest.extra["data"]["TargetUserName"]) == (Action.ACCOUNT_CHANGE, "Administrators")
    [debug] = of("win10_4703_SeDebugPrivilege_enabled.evtx")
    assert (debug.action, debug.extra["data"]["EnabledPrivilegeList"]) == (Action.PRIVILEGE_USE, "SeDebugPrivilege")
    assert any(event.action is Action.COMMAND for event in of("LM_4624_mimikatz_sekurlsa_pth_source_machine.evtx"))
    explicit = [event for event in of("LM_WMIC_4648_rpcss.evtx") if event.extra["event_id"] == 4648]
    assert {event.target_user for event in explicit} == {"administrator"}
    clock = [
        event for event in events_of(evtx_results(PYTHON_EVTX / "security.evtx")) if event.extra["event_id"] == 4616
    ]
    assert clock
    assert all(event.action is Action.CLOCK_CHANGE for event in clock)


def derived_xml(name: str) -> list[ElementTree.Element]:
    namespace = "{http://schemas.microsoft.com/win/2004/08/events/event}"
    root = ElementTree.parse(ATTACK / "DERIVED-xml" / name).getroot()  # noqa: S314 - a sample file
    return [
        element
        for element in root.iter(f"{namespace}Event")
        if element.find(f"{namespace}System/{namespace}EventRecordID") is not None
    ]


@pytest.mark.parametrize(
    "name", ["CA_4624_4625_LogonType2_LogonProc_chrome", "DE_1102_security_log_cleared"], ids=lambda name: name
)
def test_field_values_agree_with_python_evtx_xml(name: str) -> None:
    ns = "{http://schemas.microsoft.com/win/2004/08/events/event}"
    events = {event.extra["event_record_id"]: event for event in events_of(evtx_results(ATTACK / f"{name}.evtx"))}
    xml_events = derived_xml(f"{name}.xml")
    assert xml_events
    for element in xml_events:
        system = element.find(f"{ns}System")
        assert system is not None
        event = events[int(system.findtext(f"{ns}EventRecordID", ""))]
        assert event.extra["event_id"] == int(system.findtext(f"{ns}EventID", ""))
        assert event.host == system.findtext(f"{ns}Computer")
        created = system.find(f"{ns}TimeCreated")
        assert created is not None
        # python-evtx converts FILETIMEs through floats: a few microseconds off
        assert abs(event.time - utc(created.attrib["SystemTime"])) <= timedelta(microseconds=5)  # type: ignore[operator]
        compared = 0
        for data in element.iter():
            key = data.attrib.get("Name") or data.tag.rsplit("}", 1)[-1]
            if key in event.extra["data"] and data.text is not None:
                assert same_value(str(event.extra["data"][key]), data.text), key
                compared += 1
        assert compared >= 4


def same_value(ours: str, theirs: str) -> bool:
    """Equal, but for python-evtx's zero-padded hex numbers and braced upper-case GUIDs."""
    if ours == theirs or ours.lower() == theirs.strip("{}").lower():
        return True
    try:
        return int(ours, 16) == int(theirs, 16)
    except ValueError:
        return False


def truncated_and_damaged_variants() -> list[tuple[str, bytes]]:
    path = PYTHON_EVTX / "security.evtx"
    if not path.is_file():
        return []
    full = path.read_bytes()  # the variants are built here, at run time; no sample bytes are stored
    bad_chunk = bytearray(full)
    bad_chunk[4096 + 65536 : 4096 + 65536 + 8] = b"XXXXXXXX"
    bad_record = bytearray(full)
    bad_record[4096 + 65536 + 512 : 4096 + 65536 + 516] = b"XXXX"
    return [
        ("cut-mid-chunk", full[: 4096 + 2 * 65536 + 30001]),
        ("cut-in-chunk-header", full[: 4096 + 2 * 65536 + 300]),
        ("cut-in-file-header", full[:2000]),
        ("bad-chunk-magic", bytes(bad_chunk)),
        ("bad-record-magic", bytes(bad_record)),
    ]


@pytest.mark.parametrize(("label", "data"), truncated_and_damaged_variants(), ids=lambda value: str(value)[:20])
def test_damaged_evtx_files_yield_what_is_readable(label: str, data: bytes) -> None:
    results = parse_all(evtx.PARSER, data)
    events, rejected = events_of(results), rejections(results)
    expected = {
        "cut-mid-chunk": (177, {"truncated_chunk"}),
        "cut-in-chunk-header": (177, {"truncated_chunk"}),
        "cut-in-file-header": (0, {"not_evtx"}),
        "bad-chunk-magic": (2261 - 86, {"corrupt_chunk"}),
        "bad-record-magic": (2261 - 86, {"corrupt_record"}),
    }[label]
    assert (len(events), set(rejected)) == expected
    if label.startswith("cut-"):
        last = max((record for record, outcome in results if isinstance(outcome, Rejected)), key=lambda r: r.offset)
        assert last.offset + last.length == len(data)
