"""The syslog and journald parsers over the shared sample corpus (../shared/samples; see each README.txt).

- loghub/*.log: OpenSSH_2k.log and Linux_2k.log are BSD syslog with Loghub's ground truth
  (*_structured.csv: host, program, pid, message per line) used as an oracle; Mac_2k.log is BSD-syslog
  style too; Windows_2k.log (CBS servicing log) and Apache_2k.log (error log) are not syslog and must be
  rejected line by line, as bad_timestamp, without anything else going wrong.
- loghub-linux-full/Linux.log: 25,567 lines of /var/log/messages over June 2005 to February 2006.
- elastic-beats/test.log and timestamp.log: auth.log lines (sshd, sudo, useradd) and RFC 3339 timestamps.
- rsyslog/tests/fuzz/corpus/syslog-message/*: one message per file.
- rsyslog/historical/tests/testsuites/*.parse1: a raw message, then rsyslog's own parse of it as
  "PRI,facility,severity,timestamp,hostname,programname,tag,msg" ('#' lines are comments); the message is
  parsed and compared with rsyslog's reading, and the whole file is also read line by line for accounting.
- elastic-beats/sample-journal-event.json and corner-cases.EXCERPT-object2.json: journalctl JSON.

Accounting holds everywhere: the records' lengths sum to the file size, and every record gives its
events or exactly one rejection. Expected counts are computed from the raw files by substring counting.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evidence.parsers import journald, syslog
from evidence.parsers.base import Action, Event, Outcome, ParseContext, ParseError, Record
from evidence.parsers.rfc3164 import decode_octal_escapes
from tests.conftest import SAMPLES

pytestmark = pytest.mark.samples

LOGHUB = SAMPLES / "loghub"
ELASTIC = SAMPLES / "elastic-beats"
RSYSLOG_FUZZ = SAMPLES / "rsyslog" / "tests" / "fuzz" / "corpus" / "syslog-message"
RSYSLOG_PARSE1 = SAMPLES / "rsyslog" / "historical" / "tests" / "testsuites"
# Read in January 2026: the December lines of OpenSSH_2k.log belong to 2025.
PAM_FAILURE = re.compile(rb"authentication failures?;")  # "PAM 2 more authentication failures;" too
CONTEXT = ParseContext(reference_time=datetime(2026, 1, 15, tzinfo=UTC), default_host="collector")


@dataclass
class Outcomes:
    """A file's records with their events or rejection reason, checked for accounting on the way."""

    records: list[Record] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)

    def auth_events(self, *names: str) -> list[Event]:
        return [event for event in self.events if event.extra.get("auth_event") in names]

    def actions(self) -> Counter[Action]:
        return Counter(event.action for event in self.events)


def parse_file(parser: Any, path: Path, context: ParseContext = CONTEXT) -> Outcomes:
    data = path.read_bytes()
    outcomes = Outcomes()
    for record in parser.records(io.BytesIO(data)):
        outcomes.records.append(record)
        try:
            events = parser.parse(record, context)
        except ParseError as exc:
            outcomes.rejected[exc.reason] += 1
            continue
        assert events or not record.data.strip(), f"line {record.line}: only blank records may have no event"
        outcomes.events.extend(events)
    assert sum(record.length for record in outcomes.records) == len(data) == path.stat().st_size
    lengths = [record.length for record in outcomes.records]
    assert [record.offset for record in outcomes.records] == [0, *itertools.accumulate(lengths)][:-1]
    return outcomes


def sample_files(directory: Path, pattern: str) -> list[Path]:
    return sorted(directory.glob(pattern)) if directory.is_dir() else []


def loghub_oracle(name: str) -> list[dict[str, str]]:
    with (LOGHUB / f"{name}.log_structured.csv").open(encoding="utf-8", newline="") as rows:
        return list(csv.DictReader(rows))


# --- Loghub ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sample_files(LOGHUB, "*.log"), ids=lambda path: path.name)
def test_every_loghub_file_is_accounted_for(path):
    outcomes = parse_file(syslog.PARSER, path)
    lines = path.read_bytes().count(b"\n") + 1  # CRLF, no final newline (see README.txt)
    assert len(outcomes.records) == lines == 2000
    if path.name in ("Windows_2k.log", "Apache_2k.log"):  # not syslog: every line is refused, nothing crashes
        assert outcomes.rejected == Counter(bad_timestamp=2000)
    else:
        assert not outcomes.rejected
        assert all(event.message and event.host for event in outcomes.events)
        assert not any("\r" in event.message for event in outcomes.events)


def test_openssh_2k_agrees_with_the_loghub_ground_truth():
    outcomes = parse_file(syslog.PARSER, LOGHUB / "OpenSSH_2k.log")
    for event, row in zip(outcomes.events, loghub_oracle("OpenSSH_2k"), strict=True):
        assert event.time is not None
        assert (event.time.year, f"{event.time:%b}", event.time.day, f"{event.time:%H:%M:%S}") == (
            2025,
            row["Date"],
            int(row["Day"]),
            row["Time"],
        )
        assert (event.host, event.program, str(event.pid)) == (row["Component"], "sshd", row["Pid"])
        assert event.message.strip() == row["Content"].strip()


def test_openssh_2k_classification_counts_match_the_raw_text():
    data = (LOGHUB / "OpenSSH_2k.log").read_bytes()
    outcomes = parse_file(syslog.PARSER, LOGHUB / "OpenSSH_2k.log")
    accepted = outcomes.auth_events("ssh_accepted")
    failed = outcomes.auth_events("ssh_failed")
    by_password = [event for event in failed if event.extra["auth_method"] == "password"]
    assert len(accepted) == data.count(b"Accepted password") == 1
    assert {(e.action, e.outcome) for e in accepted} == {(Action.LOGON, Outcome.SUCCESS)}
    assert len(by_password) == data.count(b"Failed password") == 520
    assert len(failed) == data.count(b"]: Failed ") + data.count(b"[ Failed ")  # incl. "Failed none" and repeats
    assert {(e.action, e.outcome) for e in failed} == {(Action.LOGON, Outcome.FAILURE)}
    assert all(e.source_ip and e.user for e in by_password)
    assert sum(e.extra.get("invalid_user", False) for e in by_password) == data.count(
        b"Failed password for invalid user"
    )
    assert len(outcomes.auth_events("ssh_invalid_user")) == data.count(b": Invalid user ")
    assert len(outcomes.auth_events("pam_auth_failure", "pam_more_auth_failures")) == len(PAM_FAILURE.findall(data))
    assert len(outcomes.auth_events("ssh_possible_break_in")) == data.count(b"POSSIBLE BREAK-IN ATTEMPT")
    assert len(outcomes.auth_events("ssh_no_identification")) == data.count(b"Did not receive identification")
    gave_up = outcomes.auth_events("ssh_client_gave_up")  # code 14 (no more auth methods) and JSch "Auth fail"
    assert len(gave_up) == data.count(b": 14: No more user authentication") + data.count(b"Auth fail") == 47
    assert {(e.action, e.outcome) for e in gave_up} == {(Action.LOGON, Outcome.FAILURE)}
    assert len(outcomes.auth_events("ssh_received_disconnect")) + len(gave_up) == data.count(b"Received disconnect")
    assert len(outcomes.auth_events("pam_user_unknown")) == data.count(b"check pass; user unknown")
    assert len(outcomes.auth_events("ssh_invalid_user_request")) == data.count(b"input_userauth_request: invalid")
    repeated = [event for event in outcomes.events if "repeated" in event.extra]
    assert len(repeated) == data.count(b"message repeated")
    # What is left unclassified: "ignoring max retries" (a configuration notice) and "fatal: Write failed".
    assert outcomes.actions()[Action.OTHER] == sum(data.count(text) for text in (b"ignoring max retries", b"fatal:"))


def test_linux_2k_agrees_with_the_loghub_ground_truth_except_tags_with_spaces():
    outcomes = parse_file(syslog.PARSER, LOGHUB / "Linux_2k.log")
    disagreements = []
    for event, row in zip(outcomes.events, loghub_oracle("Linux_2k"), strict=True):
        assert event.time is not None
        assert (f"{event.time:%b}", event.time.day, f"{event.time:%H:%M:%S}", event.host) == (
            row["Month"],
            int(row["Date"]),
            row["Time"],
            row["Level"],  # Loghub's column name for the host here
        )
        if (event.program, str(event.pid or ""), event.message.strip()) != (
            row["Component"],
            row["PID"],
            row["Content"],
        ):
            disagreements.append(row["Component"])
    # RFC 3164 (and rsyslog) end the TAG at a space; Loghub keeps "syslogd 1.4.1" and login's "-- root" whole.
    assert Counter(disagreements) == Counter({"syslogd 1.4.1": 7, "-- root": 1})


def test_linux_full_year_inference_and_classification_counts():
    path = SAMPLES / "loghub-linux-full" / "Linux.log"
    data = path.read_bytes()
    outcomes = parse_file(syslog.PARSER, path, ParseContext(reference_time=datetime(2006, 3, 1, tzinfo=UTC)))
    assert len(outcomes.records) == len(outcomes.events) == len(data.splitlines()) == 25_567
    assert not outcomes.rejected
    # Read with the file's end as reference, June-December is 2005 and January-February 2006.
    assert {(event.time.year, event.time.month) for event in outcomes.events if event.time} == {
        *((2005, month) for month in range(6, 13)),
        (2006, 1),
        (2006, 2),
    }
    actions = outcomes.actions()
    assert actions[Action.SESSION_START] == data.count(b"session opened for user")
    assert actions[Action.SESSION_END] == data.count(b"session closed for user")
    pam_failures = outcomes.auth_events("pam_auth_failure", "pam_more_auth_failures")
    assert len(pam_failures) == len(PAM_FAILURE.findall(data)) == 3940
    assert {(e.action, e.outcome) for e in pam_failures} == {(Action.AUTHENTICATION, Outcome.FAILURE)}
    assert len(outcomes.auth_events("login_root")) == data.count(b"ROOT LOGIN")
    assert len(outcomes.auth_events("login_failed")) == data.count(b"FAILED LOGIN")
    assert len(outcomes.auth_events("ftp_anonymous_login")) == data.count(b"ANONYMOUS FTP LOGIN")
    assert actions[Action.ACCOUNT_CHANGE] == data.count(b"password changed for")


# --- Elastic Beats -----------------------------------------------------------------------------------------


def test_elastic_auth_log_lines():
    outcomes = parse_file(syslog.PARSER, ELASTIC / "test.log")
    assert len(outcomes.events) == 10
    assert not outcomes.rejected
    summary = [(e.action, e.outcome, e.user, e.target_user, e.source_ip, e.command) for e in outcomes.events]
    logon, pu, acct, net = Action.LOGON, Action.PRIVILEGE_USE, Action.ACCOUNT_CHANGE, Action.NETWORK
    ok, failed = Outcome.SUCCESS, Outcome.FAILURE
    assert summary == [
        (logon, ok, "vagrant", "", "10.0.2.2", ""),
        (logon, ok, "vagrant", "", "192.168.33.1", ""),
        (logon, failed, "test", "", "10.0.2.2", ""),
        (logon, failed, "root", "", "216.160.83.57", ""),
        (pu, ok, "vagrant", "root", "", "/bin/ls"),
        (net, failed, "", "", "2.125.160.217", ""),
        (pu, ok, "vagrant", "root", "", "/bin/cat /var/log/secure"),
        (pu, failed, "tsg", "root", "", "/bin/ls"),
        (acct, ok, "", "", "", ""),
        (acct, ok, "", "apache", "", ""),
    ]
    assert outcomes.events[0].extra["key_type"] == "RSA"
    assert outcomes.events[8].extra["group"] == "apache"
    assert {event.time.year for event in outcomes.events if event.time} == {2025}  # February, read in January 2026


def test_elastic_rfc3339_timestamps():
    outcomes = parse_file(syslog.PARSER, ELASTIC / "timestamp.log", ParseContext(timezone_name="Europe/Paris"))
    sudo, pam = outcomes.events
    assert sudo.time == datetime(2019, 6, 14, 8, 40, 20, 912134, tzinfo=UTC)  # no offset: the context's zone
    assert (sudo.action, sudo.user, sudo.target_user) == (Action.SESSION_START, "userauth3", "root")
    assert pam.time == datetime(2019, 6, 14, 11, 31, 15, 412000, tzinfo=UTC)  # +01:30
    assert (pam.host, pam.program, pam.message) == ("localhost", "pam", "user nobody logged out.")


# --- rsyslog -----------------------------------------------------------------------------------------------


def test_rsyslog_fuzz_corpus():
    results = {path.name: parse_file(syslog.PARSER, path) for path in sample_files(RSYSLOG_FUZZ, "*")}
    assert set(results) == {
        "rfc3164-basic",
        "rfc3164-no-pri",
        "rfc3164-rfc3339",
        "rfc3164-short",
        "rfc5424-basic",
        "rfc5424-escaped-sd",
        "rfc5424-nil",
    }
    assert results["rfc3164-short"].rejected == Counter(bad_timestamp=1)
    events = {name: outcome.events[0] for name, outcome in results.items() if outcome.events}
    su = events["rfc3164-basic"]
    assert (su.extra["facility"], su.extra["severity"], su.host, su.program) == ("auth", "crit", "mymachine", "su")
    assert (su.action, su.outcome, su.user, su.target_user) == (
        Action.PRIVILEGE_USE,
        Outcome.FAILURE,
        "lonvick",
        "root",
    )
    assert (events["rfc3164-no-pri"].host, events["rfc3164-no-pri"].pid) == ("host.example", 123)
    assert events["rfc3164-rfc3339"].time == datetime(2026, 7, 23, 7, 30, 45, 123000, tzinfo=UTC)
    assert events["rfc5424-basic"].extra["sd"] == {"exampleSDID@32473": {"iut": "3", "eventSource": "Application"}}
    assert events["rfc5424-escaped-sd"].extra["sd"] == {"meta@32473": {"value": "escaped]bracket", "quote": '"'}}
    assert (events["rfc5424-nil"].time, events["rfc5424-nil"].message) == (None, "minimal")


@dataclass(frozen=True)
class Parse1Case:
    file: str
    raw: bytes
    expected: list[str]  # PRI, facility, severity, timestamp, hostname, programname, tag, msg


def parse1_cases() -> list[Parse1Case]:
    cases = []
    for path in sample_files(RSYSLOG_PARSE1, "*.parse1"):
        lines = [line for line in path.read_bytes().split(b"\n") if line and not line.startswith(b"#")]
        for raw, expected in zip(lines[0::2], lines[1::2], strict=True):
            cases.append(Parse1Case(path.name, raw, expected.decode().split(",", 7)))
    return cases


# Where only the header is compared, and why.
HEADER_ONLY = {
    "snare.parse1": "rsyslog escapes the TABs to #011 before it cuts the TAG, so its TAG runs on to the next space",
    "malformed1.parse1": "its TAG has commas in it, so rsyslog's comma-separated expectation cannot be split",
    "upcase-date.parse1": "a year after the time: rsyslog takes it as host and no TAG; we take the next word as TAG",
}


@pytest.mark.parametrize("case", parse1_cases(), ids=lambda case: f"{case.file}:{case.raw[:30]!r}")
def test_rsyslog_parser_test_cases(case):
    # The harness of these tests sent \011 as a TAB; so do we.
    (event,) = syslog.parse_syslog_frame(case.raw.replace(b"\\011", b"\t"), CONTEXT)
    _pri, facility, severity, timestamp, host, programname, tag, message = case.expected
    if case.raw.startswith(b"<"):  # rsyslog assumes user.notice without PRI; we do not invent one
        assert (event.extra["facility"], event.extra["severity"]) == (facility, severity)
    assert event.host == ("collector" if host == "~H" else host)  # ~H: rsyslog's own host name
    rfc5424 = re.match(rb"<\d{1,3}>1 ", case.raw) is not None
    if not rfc5424:
        assert event.time is not None
        assert f"{event.time:%b} {event.time.day:2d} {event.time:%H:%M:%S}" == timestamp
    if case.file in HEADER_ONLY:
        return
    if rfc5424:
        assert (f"{event.program}[{event.pid}]" if event.pid else event.program) == tag
    else:
        assert event.program == programname
    assert event.message == decode_octal_escapes(message.removeprefix(" "))


@pytest.mark.parametrize("path", sample_files(RSYSLOG_PARSE1, "*.parse1"), ids=lambda path: path.name)
def test_rsyslog_parser_test_files_read_line_by_line(path):
    """Comments and expectation lines have no timestamp: rejected, counted, and nothing else lost."""
    outcomes = parse_file(syslog.PARSER, path)
    lines = path.read_bytes().split(b"\n")
    messages = sum(1 for case in parse1_cases() if case.file == path.name)
    assert len(outcomes.events) == messages
    assert outcomes.rejected == Counter(bad_timestamp=sum(1 for line in lines if line) - messages)


# --- journald ----------------------------------------------------------------------------------------------


def test_journal_sample_entry():
    path = ELASTIC / "sample-journal-event.json"
    outcomes = parse_file(journald.PARSER, path)
    (event,) = outcomes.events
    assert len(outcomes.records) == 1
    assert event.time == datetime(2024, 8, 19, 15, 20, 55, 230058, tzinfo=UTC)
    assert (event.host, event.program, event.pid) == ("millennium-falcon", "TestRestartsJournalctlOnError", 235728)
    assert event.message == "Count: 0000000001"
    assert event.extra["severity"] == "info"
    assert event.extra["journal"]["_SYSTEMD_UNIT"] == "session-2.scope"
    entry = json.loads(path.read_text(encoding="utf-8"))
    assert set(event.extra["journal"]) | {"MESSAGE", "_HOSTNAME", "_PID", "__REALTIME_TIMESTAMP"} == set(entry)


def test_journal_entry_with_a_byte_array_message():
    path = ELASTIC / "corner-cases.EXCERPT-object2.json"
    outcomes = parse_file(journald.PARSER, path)
    (event,) = outcomes.events
    entry = json.loads(path.read_text(encoding="utf-8"))
    assert (
        event.message
        == bytes(entry["MESSAGE"]).decode("utf-8")
        == ("Unable to parse indicator of AT+BIA command: AT+BIA=1,1,0,0,0\rAT+BCS=2")
    )
    assert event.extra["binary_fields"] == ["MESSAGE"]
    assert (event.program, event.pid, event.extra["severity"]) == ("pulseaudio", 3728, "err")
    assert event.time == datetime(2024, 7, 1, 18, 42, 46, 807141, tzinfo=UTC)
