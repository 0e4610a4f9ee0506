"""The auditd parser on small hand-written audit.log fixtures (made-up hosts, users, RFC 5737 IPs)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from evidence.parsers.auditd import PARSER, AuditdParser
from evidence.parsers.base import MAX_LINE_BYTES, Action, Event, Outcome, ParseContext, Record, Rejected, parse_stream

CONTEXT = ParseContext(default_host="fallback-host")


def hexed(text: str) -> str:
    return text.encode().hex().upper()


def syscall(serial: int, number: int = 59, comm: str = "id", extra: str = "", ts: str = "1700000000.250") -> str:
    return (
        f"type=SYSCALL msg=audit({ts}:{serial}): arch=c000003e syscall={number} success=yes exit=0 a0=55d0 a1=55d1"
        f" a2=55d2 a3=0 items=2 ppid=4100 pid={serial + 10} auid=1001 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0"
        f' sgid=0 fsgid=0 tty=pts2 ses=17 comm="{comm}" exe="/usr/bin/{comm}" subj=unconfined key="exec-log"{extra}'
    )


def line(kind: str, serial: int, body: str, ts: str = "1700000000.250") -> str:
    return f"type={kind} msg=audit({ts}:{serial}): {body}"


def eoe(serial: int, ts: str = "1700000000.250") -> str:
    return f"type=EOE msg=audit({ts}:{serial}): "


def run(text: str | bytes, parser: AuditdParser = PARSER) -> list[Event | Rejected]:
    data = text.encode() if isinstance(text, str) else text
    return list(parse_stream(parser, io.BytesIO(data), CONTEXT))


def events(text: str | bytes, parser: AuditdParser = PARSER) -> list[Event]:
    items = run(text, parser)
    rejected = [item for item in items if isinstance(item, Rejected)]
    assert not rejected, rejected
    return items  # type: ignore[return-value]


def records(text: str | bytes, parser: AuditdParser = PARSER) -> list[Record]:
    data = text.encode() if isinstance(text, str) else text
    return list(parser.records(io.BytesIO(data)))


def lines(*items: str) -> str:
    return "\n".join(items) + "\n"


# --- joining ----------------------------------------------------------------------------------


def test_records_of_one_event_are_joined_into_one_event():
    text = lines(
        syscall(500),
        line("EXECVE", 500, 'argc=3 a0="id" a1="-u" a2="backup-svc"'),
        line("CWD", 500, 'cwd="/srv/app"'),
        line("PATH", 500, 'item=0 name="/usr/bin/id" inode=42 dev=fd:01 mode=0100755 ouid=0 ogid=0 nametype=NORMAL'),
        line("PROCTITLE", 500, f"proctitle={hexed('id' + chr(0) + '-u' + chr(0) + 'backup-svc')}"),
        eoe(500),
    )
    [event] = events(text)
    assert event.action is Action.COMMAND
    assert event.outcome is Outcome.SUCCESS
    assert event.command == "id -u backup-svc"
    assert event.time == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)
    assert (event.user, event.target_user, event.session_id, event.pid) == ("1001", "0", "17", 510)
    assert event.program == "id"
    assert event.host == "fallback-host"
    assert event.extra["record_types"] == ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE", "EOE"]
    assert event.extra["proctitle"] == ["id", "-u", "backup-svc"]
    assert event.extra["cwd"] == "/srv/app"
    assert event.extra["paths"] == ["/usr/bin/id"]
    assert event.extra["key"] == ["exec-log"]
    assert event.extra["syscall"] == "execve"
    assert event.extra["arch"] == "x86_64"
    assert event.extra["audit_id"] == "1700000000.250:500"
    assert (event.raw_offset, event.raw_length) == (0, len(text))


def test_interleaved_events_are_joined_by_serial_and_lengths_cover_the_file():
    text = lines(
        syscall(601, comm="ls"),
        syscall(602, comm="cat"),
        line("EXECVE", 601, 'argc=2 a0="ls" a1="/var/log"'),
        line("EXECVE", 602, 'argc=2 a0="cat" a1="/etc/hosts"'),
        eoe(601),
        eoe(602),
    )
    split = records(text)
    assert [record.offset for record in split] == sorted(record.offset for record in split)
    assert sum(record.length for record in split) == len(text)
    first, second = split
    assert first.data.split(b"\n")[1].startswith(b"type=EXECVE msg=audit(1700000000.250:601)")
    assert first.length == sum(len(item) + 1 for item in text.splitlines() if ":601)" in item)
    assert [event.command for event in events(text)] == ["ls /var/log", "cat /etc/hosts"]
    assert second.line == 2


def test_out_of_order_records_are_joined_whatever_their_order():
    text = lines(
        line("PROCTITLE", 702, f"proctitle={hexed('cat' + chr(0) + 'notes.txt')}", ts="1700000001.002"),
        line("EXECVE", 701, 'argc=2 a0="grep" a1="error"', ts="1700000001.001"),
        syscall(702, comm="cat", ts="1700000001.002"),
        line("CWD", 701, 'cwd="/home/dana"', ts="1700000001.001"),
        syscall(701, comm="grep", ts="1700000001.001"),
        eoe(701, ts="1700000001.001"),
        eoe(702, ts="1700000001.002"),
    )
    by_serial = {event.extra["serial"]: event for event in events(text)}
    assert by_serial[701].command == "grep error"
    assert by_serial[701].extra["cwd"] == "/home/dana"
    assert by_serial[702].command == "cat notes.txt"
    assert by_serial[702].program == "cat"
    assert sum(record.length for record in records(text)) == len(text)


def test_same_serial_at_another_time_is_another_event():
    text = lines(syscall(42, ts="1700000000.100"), syscall(42, ts="1700000500.100"))
    assert len(events(text)) == 2


def test_eoe_closes_the_event():
    text = lines(syscall(800), eoe(800), line("CWD", 800, 'cwd="/tmp"'))
    split = records(text)
    assert len(split) == 2
    assert split[0].data.count(b"\n") == 1


def test_an_event_is_flushed_after_the_look_back_window():
    body = [syscall(900)] + [
        line("USER_ACCT", 901 + n, "pid=1 uid=0 auid=1001 ses=3 msg='op=x res=success'") for n in range(4)
    ]
    late = line("CWD", 900, 'cwd="/late"')
    narrow = records(lines(*body, late), AuditdParser(window=3))
    wide = records(lines(*body, late), AuditdParser(window=10))
    assert len([record for record in narrow if b":900)" in record.data]) == 2
    assert len([record for record in wide if b":900)" in record.data]) == 1
    assert sum(record.length for record in narrow) == len(lines(*body, late))


def test_the_pending_queue_is_capped():
    blocking = syscall(950)
    others = [line("USER_ACCT", 951 + n, "pid=1 uid=0 msg='op=x res=success'") for n in range(20)]
    text = lines(blocking, *others, eoe(950))
    parser = AuditdParser(window=1000, max_pending_lines=5)
    capped = records(text, parser)
    assert len([record for record in capped if b":950)" in record.data]) == 2  # closed early, EOE alone
    assert sum(record.length for record in capped) == len(text)
    assert len(events(text, parser)) == 21  # the lone EOE gives no event


def test_an_event_is_closed_at_the_size_cap():
    text = lines(*(line("PATH", 990, f'item={n} name="/srv/data/file-{n:04d}"') for n in range(50)))
    split = records(text, AuditdParser(max_event_bytes=500))
    assert len(split) > 1
    assert sum(record.length for record in split) == len(text)


def test_records_start_at_the_given_offset():
    split = list(PARSER.records(io.BytesIO(lines(syscall(10), eoe(10)).encode()), start_offset=1000))
    assert split[0].offset == 1000


# --- decoding ---------------------------------------------------------------------------------


def test_user_login_failure_with_hex_account():
    text = line(
        "USER_LOGIN",
        20,
        "pid=3131 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0 msg='op=login"
        f' acct={hexed("(invalid user)")} exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=sshd res=failed\'',
    )
    [event] = events(text)
    assert event.action is Action.LOGON
    assert event.outcome is Outcome.FAILURE
    assert event.target_user == "(invalid user)"
    assert event.user == "(invalid user)"  # no login uid yet: the account the login was for
    assert event.source_ip == "203.0.113.9"
    assert event.session_id == ""
    assert event.program == "sshd"
    assert event.extra["fields"]["op"] == "login"


def test_user_cmd_hex_command_is_privilege_use():
    text = line(
        "USER_CMD",
        21,
        'pid=4000 uid=1001 auid=1001 ses=5 msg=\'cwd="/home/erin"'
        f" cmd={hexed('systemctl restart nginx')} terminal=pts/1 res=success'",
    )
    [event] = events(text)
    assert event.action is Action.PRIVILEGE_USE
    assert event.command == "systemctl restart nginx"
    assert event.user == "1001"
    assert event.extra["cwd"] == "/home/erin"


def test_unquoted_execve_arguments_are_hex_decoded_and_split_arguments_joined():
    text = lines(
        syscall(30),
        line("EXECVE", 30, f'argc=3 a0="sh" a1="-c" a2={hexed("echo hi; rm -f /tmp/x")}'),
        eoe(30),
    )
    assert events(text)[0].command == "sh -c echo hi; rm -f /tmp/x"

    long_argument = "z" * 300 + " end"
    pieces = [hexed(long_argument)[i : i + 200] for i in range(0, len(hexed(long_argument)), 200)]
    split = lines(
        syscall(31),
        line("EXECVE", 31, f'argc=2 a0="printf" a1_len={len(long_argument)} a1[0]={pieces[0]}'),
        *(line("EXECVE", 31, f" a1[{n}]={piece}") for n, piece in enumerate(pieces[1:], 1)),
        eoe(31),
    )
    [event] = events(split)
    assert event.extra["argv"] == ["printf", long_argument]


def test_hex_that_is_not_utf8_is_kept_as_written():
    [event] = events(lines(syscall(32, extra=""), line("CWD", 32, "cwd=FFFE"), eoe(32)))
    assert event.extra["cwd"] == "FFFE"


def test_old_style_parenthesised_message_fields():
    text = line(
        "USER_START",
        33,
        'user pid=77 uid=0 auid=0 msg=\'PAM: session open acct=root : exe="/usr/sbin/crond"'
        " (hostname=?, addr=?, terminal=cron res=success)'",
    )
    [event] = events(text)
    assert event.action is Action.SESSION_START
    assert event.outcome is Outcome.SUCCESS
    assert event.extra["terminal"] == "cron"
    assert event.extra["text"] == "PAM: session open"


def test_enriched_fields_give_names():
    text = lines(
        syscall(34, extra='\x1dARCH=x86_64 SYSCALL=execve AUID="frank" UID="root" GID="root"'),
        line("EXECVE", 34, 'argc=1 a0="whoami"'),
        eoe(34),
    )
    [event] = events(text)
    assert (event.user, event.target_user) == ("frank", "root")
    assert event.extra["enriched"]["SYSCALL"] == "execve"


def test_node_prefix_and_syslog_forwarded_form():
    [event] = events("node=db01.example.test " + syscall(35) + "\n")
    assert event.host == "db01.example.test"
    forwarded = "Mar  3 10:00:00 collector audispd: node=web02.example.test " + line(
        "USER_AUTH",
        36,
        'pid=5 uid=0 auid=4294967295 ses=4294967295 msg=\'op=PAM:authentication acct="gina"'
        ' exe="/usr/sbin/sshd" hostname=198.51.100.4 addr=198.51.100.4 terminal=ssh res=success\'',
    )
    [event] = events(forwarded + "\n")
    assert event.host == "web02.example.test"
    assert event.action is Action.AUTHENTICATION
    assert event.source_ip == "198.51.100.4"
    assert event.extra["syslog_prefix"].endswith("audispd:")
    [event] = events(forwarded.replace("node=web02.example.test ", "") + "\n")
    assert event.host == "collector"


def user_message(kind: str, serial: int, inner: str, auid: int = 1001) -> str:
    return line(kind, serial, f"pid=9 uid=0 auid={auid} ses=2 msg='{inner}'")


@pytest.mark.parametrize(
    ("body", "action"),
    [
        (user_message("ADD_USER", 40, 'op=add-user acct="hank" res=success'), Action.ACCOUNT_CHANGE),
        (user_message("USER_CHAUTHTOK", 41, 'op=change password acct="hank" res=failed'), Action.ACCOUNT_CHANGE),
        (line("CONFIG_CHANGE", 42, 'auid=1001 ses=2 op="add_rule" key="identity" list=4 res=1'), Action.CONFIG_CHANGE),
        (line("DAEMON_START", 43, "op=start ver=3.0 auid=4294967295 pid=612 res=success"), Action.SERVICE),
        (user_message("SERVICE_STOP", 44, 'unit=sshd comm="systemd" res=success'), Action.SERVICE),
        (user_message("USER_LOGOUT", 45, 'op=login id=1001 exe="/usr/sbin/sshd" res=success'), Action.LOGOFF),
        (user_message("USER_END", 46, 'op=PAM:session_close acct="ivy" res=success'), Action.SESSION_END),
        (user_message("CRED_ACQ", 47, 'op=PAM:setcred acct="ivy" res=success'), Action.AUTHENTICATION),
        (user_message("USYS_CONFIG", 48, 'changing system time res=success'), Action.CLOCK_CHANGE),
        (syscall(49, number=227, comm="date"), Action.CLOCK_CHANGE),
        (syscall(50, number=42, comm="curl"), Action.NETWORK),
        (syscall(51, number=2, comm="vim"), Action.OTHER),
    ],
)  # fmt: skip
def test_record_types_map_to_actions(body: str, action: Action):
    [event] = events(body + "\n")
    assert event.action is action


def test_clock_adjustment_event_with_time_records():
    text = lines(
        line("TIME_ADJNTPVAL", 60, "op=freq old=-1200 new=-1150"),
        syscall(60, number=159, comm="chronyd")
        .replace("auid=1001", "auid=4294967295")
        .replace("ses=17", "ses=4294967295"),
        eoe(60),
    )
    [event] = events(text)
    assert event.action is Action.CLOCK_CHANGE
    assert event.user == ""  # unset login uid
    assert event.session_id == ""
    assert event.extra["syscall"] == "adjtimex"
    assert event.extra["fields"] == {"op": "freq", "old": "-1200", "new": "-1150"}


def test_anomalies_and_socket_addresses_go_to_extra():
    text = lines(
        line("ANOM_PROMISCUOUS", 61, "dev=eth0 prom=256 old_prom=0 auid=1001 uid=0 gid=0 ses=4"),
        syscall(61, number=16, comm="tcpdump"),
        line("SOCKADDR", 61, "saddr=0200005AC6336407" + "00" * 8),
        eoe(61),
    )
    [event] = events(text)
    assert event.extra["anomalies"][0]["type"] == "ANOM_PROMISCUOUS"
    assert event.extra["anomalies"][0]["dev"] == "eth0"
    assert event.extra["sockaddr"] == [{"family": "inet", "addr": "198.51.100.7", "port": 90}]


def test_login_record_sets_the_session():
    text = line(
        "LOGIN",
        62,
        "pid=88 uid=0 subj=unconfined old-auid=4294967295 auid=1002 tty=(none) old-ses=4294967295 ses=9 res=1",
    )
    [event] = events(text + "\n")
    assert (event.action, event.outcome, event.user, event.session_id) == (
        Action.SESSION_START,
        Outcome.SUCCESS,
        "1002",
        "9",
    )


def test_crlf_line_ends_are_accepted():
    text = (syscall(63) + "\r\n" + eoe(63) + "\r\n").encode()
    [record] = records(text)
    assert record.length == len(text)
    assert events(text)[0].extra["record_types"] == ["SYSCALL", "EOE"]


# --- rejections -------------------------------------------------------------------------------


def test_lines_that_are_not_audit_records_are_rejected_on_their_own():
    text = lines("# exported by hand", syscall(70), "type=UNKNOWN[1329] msg=?", eoe(70), "", "   ")
    items = run(text)
    reasons = [item.reason for item in items if isinstance(item, Rejected)]
    assert reasons == ["not_audit_record", "not_audit_record"]
    assert len([item for item in items if isinstance(item, Event)]) == 1
    assert sum(record.length for record in records(text)) == len(text)


def test_oversized_line_is_rejected_and_the_next_lines_still_parse():
    huge = line("EXECVE", 71, "argc=1 a0=" + "41" * (MAX_LINE_BYTES // 2 + 10))
    text = lines(syscall(72), huge, eoe(72))
    items = run(text)
    assert [item.reason for item in items if isinstance(item, Rejected)] == ["line_too_long"]
    assert [item.extra["serial"] for item in items if isinstance(item, Event)] == [72]
    assert sum(record.length for record in records(text)) == len(text)


def test_invalid_utf8_and_nul_bytes_are_rejected():
    bad = (syscall(73) + "\n").encode().replace(b'comm="id"', b'comm="\xff\xfe"')
    assert [item.reason for item in run(bad) if isinstance(item, Rejected)] == ["invalid_utf8"]
    nul = (syscall(74) + "\n").encode().replace(b"tty=pts2", b"tty=\x00")
    assert [item.reason for item in run(nul) if isinstance(item, Rejected)] == ["binary_data"]


def test_parse_of_a_record_that_is_not_audit_text():
    with pytest.raises(Exception) as raised:
        PARSER.parse(Record(0, b"Jan  1 00:00:00 host sshd[1]: hello"), CONTEXT)
    assert getattr(raised.value, "reason", "") == "not_audit_record"
