"""The message classifier on hand-written messages (made-up hosts and users, RFC 5737 addresses)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from evidence.parsers.auth_coverage import COVERAGE
from evidence.parsers.auth_messages import (
    RULES,
    Classification,
    apply_classification,
    classify,
    first_characters,
    normalise_program,
    rules_for,
)
from evidence.parsers.base import Action, Event, Outcome

L, LO, AU, PU, AC = Action.LOGON, Action.LOGOFF, Action.AUTHENTICATION, Action.PRIVILEGE_USE, Action.ACCOUNT_CHANGE
SS, SE, NET, SVC = Action.SESSION_START, Action.SESSION_END, Action.NETWORK, Action.SERVICE
OK, FAIL, UNK = Outcome.SUCCESS, Outcome.FAILURE, Outcome.UNKNOWN
FIELDS = ("user", "target_user", "source_ip", "command", "session_id")

# (rule, program, message, action, outcome, expected fields and extra values)
CASES: list[tuple[str, str, str, Action, Outcome, dict[str, Any]]] = [
    # OpenSSH, including the sshd-session process of OpenSSH 9.8+
    ("ssh_accepted", "sshd", "Accepted password for alice from 192.0.2.10 port 50122 ssh2", L, OK,
     {"user": "alice", "source_ip": "192.0.2.10", "auth_method": "password", "source_port": "50122"}),
    ("ssh_accepted", "sshd-session",
     "Accepted publickey for deploy from 2001:db8::7 port 41000 ssh2: ED25519 SHA256:q3x0bVb0kqS9HhV1cW9Xg", L, OK,
     {"user": "deploy", "source_ip": "2001:db8::7", "auth_method": "publickey", "key_type": "ED25519",
      "key_fingerprint": "SHA256:q3x0bVb0kqS9HhV1cW9Xg"}),
    ("ssh_accepted", "sshd", "Accepted keyboard-interactive/pam for carol from 198.51.100.4 port 2201 ssh2", L, OK,
     {"user": "carol", "auth_method": "keyboard-interactive/pam"}),
    ("ssh_accepted", "sshd", "Accepted gssapi-with-mic for dave from 198.51.100.5 port 2202 ssh2", L, OK,
     {"user": "dave", "auth_method": "gssapi-with-mic"}),
    ("ssh_failed", "sshd", "Failed password for root from 203.0.113.9 port 60222 ssh2", L, FAIL,
     {"user": "root", "source_ip": "203.0.113.9", "auth_method": "password"}),
    ("ssh_failed", "sshd", "Failed password for invalid user oracle from 203.0.113.9 port 1 ssh2", L,
     FAIL, {"user": "oracle", "source_ip": "203.0.113.9", "invalid_user": True}),
    ("ssh_failed", "sshd", "Failed none for invalid user admin from 203.0.113.9 port 2 ssh2", L, FAIL,
     {"user": "admin", "auth_method": "none"}),
    ("ssh_invalid_user", "sshd", "Invalid user guest from 203.0.113.9 port 40022", L, FAIL,
     {"user": "guest", "source_ip": "203.0.113.9", "invalid_user": True}),
    ("ssh_invalid_user", "sshd", "Invalid user  from 203.0.113.9", L, FAIL, {"user": "", "source_ip": "203.0.113.9"}),
    ("ssh_user_not_allowed", "sshd", "User bob from 203.0.113.9 not allowed because not listed in AllowUsers", L,
     FAIL, {"user": "bob", "reason": "not listed in AllowUsers"}),
    ("ssh_max_auth_attempts", "sshd",
     "error: maximum authentication attempts exceeded for root from 203.0.113.9 port 4 ssh2 [preauth]", L, FAIL,
     {"user": "root", "source_ip": "203.0.113.9"}),
    ("ssh_too_many_failures", "sshd", "Disconnecting: Too many authentication failures for admin [preauth]", L, FAIL,
     {"user": "admin"}),
    ("ssh_pam_failure", "sshd", "error: PAM: Authentication failure for alice from 198.51.100.8", AU, FAIL,
     {"user": "alice", "source_ip": "198.51.100.8"}),
    ("ssh_auth_aborted", "sshd",
     "Connection closed by authenticating user root 203.0.113.9 port 39000 [preauth]", L, FAIL,
     {"user": "root", "source_ip": "203.0.113.9", "user_state": "authenticating"}),
    ("ssh_auth_aborted", "sshd", "Connection reset by invalid user test 203.0.113.9 port 39001 [preauth]", L, FAIL,
     {"user": "test", "user_state": "invalid"}),
    ("ssh_auth_aborted", "sshd", "Disconnected from invalid user pi 203.0.113.9 port 39002 [preauth]", L, FAIL,
     {"user": "pi"}),
    ("ssh_disconnected_user", "sshd", "Disconnected from user alice 192.0.2.10 port 50122", LO, OK,
     {"user": "alice", "source_ip": "192.0.2.10"}),
    ("ssh_connection_closed", "sshd", "Connection closed by 203.0.113.9 port 39003 [preauth]", NET, UNK,
     {"source_ip": "203.0.113.9", "source_port": "39003"}),
    ("ssh_connection_closed", "sshd", "Connection closed by 203.0.113.9 [preauth]", NET, UNK,
     {"source_ip": "203.0.113.9"}),
    ("ssh_received_disconnect", "sshd", "Received disconnect from 203.0.113.9 port 39004:11: Bye Bye [preauth]", NET,
     UNK, {"source_ip": "203.0.113.9", "disconnect_code": "11", "reason": "Bye Bye"}),
    ("ssh_received_disconnect", "sshd", "Received disconnect from 203.0.113.9: 11: Bye Bye [preauth]", NET, UNK,
     {"source_ip": "203.0.113.9", "reason": "Bye Bye"}),
    ("ssh_no_identification", "sshd", "Did not receive identification string from 203.0.113.9 port 5555", NET, FAIL,
     {"source_ip": "203.0.113.9"}),
    ("ssh_possible_break_in", "sshd",
     "reverse mapping checking getaddrinfo for scanner.example.net [203.0.113.66] failed - POSSIBLE BREAK-IN ATTEMPT!",
     NET, UNK, {"source_ip": "203.0.113.66", "source_host": "scanner.example.net", "alert": "possible_break_in"}),
    ("ssh_possible_break_in", "sshd", "Address 203.0.113.67 maps to odd.example.net, but this does not map back to "
     "the address - POSSIBLE BREAK-IN ATTEMPT!", NET, UNK, {"address": "203.0.113.67"}),
    ("ssh_listening", "sshd", "Server listening on 0.0.0.0 port 22.", SVC, OK, {"listen_port": "22"}),
    ("ssh_terminating", "sshd", "Received signal 15; terminating.", SVC, OK, {"signal": "15"}),
    # PAM, through any service; the "pam_unix(service:type): " prefix is reported in extra
    ("pam_session_opened", "sshd", "pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)",
     SS, OK, {"user": "alice", "uid": "1000", "pam_service": "sshd", "pam_type": "session"}),
    ("pam_session_closed", "sshd-session", "pam_unix(sshd:session): session closed for user alice", SE, OK,
     {"user": "alice"}),
    ("pam_session_opened", "CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)", SS, OK,
     {"user": "root", "pam_service": "cron"}),
    ("pam_session_opened", "sshd(pam_unix)", "session opened for user erin by (uid=0)", SS, OK, {"user": "erin"}),
    ("pam_auth_failure", "sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
     "ruser= rhost=203.0.113.9  user=root", AU, FAIL,
     {"user": "root", "source_ip": "203.0.113.9", "pam_module": "pam_unix", "tty": "ssh"}),
    ("pam_auth_failure", "sshd(pam_unix)", "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= "
     "rhost=dsl-7.example.net ", AU, FAIL, {"source_ip": "", "source_host": "dsl-7.example.net"}),
    ("pam_more_auth_failures", "sshd", "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= "
     "rhost=203.0.113.9  user=root", AU, FAIL, {"user": "root", "failures": "2"}),
    ("pam_password_changed", "passwd", "pam_unix(passwd:chauthtok): password changed for bob", AC, OK,
     {"target_user": "bob", "change": "password_changed"}),
    ("pam_password_changed", "chpasswd", "pam_unix(chpasswd:chauthtok): password changed for frank", AC, OK,
     {"target_user": "frank"}),
    # su
    ("su_session_opened_root", "su", "pam_unix(su:session): session opened for user root by alice(uid=1000)", PU, OK,
     {"user": "alice", "target_user": "root", "uid": "1000"}),
    ("su_session_opened_root", "su", "pam_unix(su-l:session): session opened for user root(uid=0) by alice(uid=1000)",
     PU, OK, {"user": "alice", "target_user": "root"}),
    ("su_session_opened", "su", "pam_unix(su:session): session opened for user postgres(uid=114) by alice(uid=1000)",
     SS, OK, {"user": "alice", "target_user": "postgres"}),
    ("su_session_opened", "su(pam_unix)", "session opened for user news by (uid=0)", SS, OK,
     {"user": "", "target_user": "news", "uid": "0"}),
    ("su_session_closed", "su", "pam_unix(su:session): session closed for user root", SE, OK, {"target_user": "root"}),
    ("su_failed_root", "su", "FAILED SU (to root) alice on pts/0", PU, FAIL,
     {"user": "alice", "target_user": "root", "tty": "pts/0"}),
    ("su_failed", "su", "FAILED SU (to postgres) alice on pts/1", AU, FAIL,
     {"user": "alice", "target_user": "postgres"}),
    ("su_failed_solaris_root", "su", "'su root' failed for mallory on /dev/pts/8", PU, FAIL,
     {"user": "mallory", "target_user": "root"}),
    ("su_succeeded_shadow_root", "su", "Successful su for root by alice", PU, OK,
     {"user": "alice", "target_user": "root"}),
    ("su_succeeded_shadow", "su", "Successful su for news by alice", AU, OK, {"user": "alice", "target_user": "news"}),
    ("su_failed_shadow", "su", "- pts/4 alice:news", AU, FAIL,
     {"user": "alice", "target_user": "news", "tty": "pts/4"}),
    ("su_succeeded", "su", "(to news) alice on pts/2", AU, OK, {"user": "alice", "target_user": "news"}),
    ("su_failed_solaris", "su", "'su news' failed for alice on /dev/pts/8", AU, FAIL, {"target_user": "news"}),
    ("su_succeeded_solaris", "su", "'su news' succeeded for alice on /dev/pts/8", AU, OK, {"target_user": "news"}),
    ("su_failed_bsd", "su", "BAD SU alice to news on /dev/ttys001", AU, FAIL, {"user": "alice", "target_user": "news"}),
    ("su_succeeded_bsd", "su", "alice to news", AU, OK, {"user": "alice", "target_user": "news"}),
    ("pam_switch_user_failure", "su", "pam_unix(su-l:auth): authentication failure; logname=alice uid=1000 euid=0 "
     "tty=/dev/pts/1 ruser=alice rhost=  user=root", AU, FAIL,
     {"user": "alice", "target_user": "root", "source_ip": ""}),
    # sudo
    ("sudo_command", "sudo", "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id", PU, OK,
     {"user": "alice", "target_user": "root", "command": "/usr/bin/id", "tty": "pts/0", "pwd": "/home/alice"}),
    ("sudo_command", "sudo", "alice : TTY=pts/2 ; PWD=/srv ; USER=postgres ; TSID=000012 ; ENV=PGDATA=/srv/db ; "
     "COMMAND=/usr/bin/psql -c 'select 1; select 2'", PU, OK,
     {"target_user": "postgres", "command": "/usr/bin/psql -c 'select 1; select 2'"}),
    ("sudo_refused", "sudo", "mallory : user NOT in sudoers ; TTY=pts/3 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh",
     PU, FAIL, {"user": "mallory", "target_user": "root", "command": "/bin/sh", "reason": "user NOT in sudoers"}),
    ("sudo_refused", "sudo", "bob : 3 incorrect password attempts ; TTY=pts/4 ; PWD=/home/bob ; USER=root ; "
     "COMMAND=/usr/bin/cat /etc/shadow", PU, FAIL,
     {"user": "bob", "command": "/usr/bin/cat /etc/shadow", "reason": "3 incorrect password attempts"}),
    ("sudo_session_opened", "sudo", "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)",
     SS, OK, {"user": "alice", "target_user": "root"}),
    ("sudo_session_closed", "sudo", "pam_unix(sudo:session): session closed for user root", SE, OK,
     {"target_user": "root"}),
    # shadow-utils
    ("user_created", "useradd", "new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, "
     "from=/dev/pts/0", AC, OK, {"target_user": "bob", "uid": "1001", "shell": "/bin/bash", "change": "user_created"}),
    ("group_created", "groupadd", "new group: name=auditors, GID=1002", AC, OK, {"group": "auditors", "gid": "1002"}),
    ("group_created", "groupadd", "group added to /etc/group: name=auditors, GID=1002", AC, OK, {"group": "auditors"}),
    ("user_deleted", "userdel", "delete user 'bob'", AC, OK, {"target_user": "bob", "change": "user_deleted"}),
    ("group_deleted", "userdel", "removed group 'bob' owned by 'bob'", AC, OK, {"group": "bob"}),
    ("group_deleted", "groupdel", "group 'auditors' removed", AC, OK, {"deleted_group": "auditors"}),
    ("member_added", "usermod", "add 'bob' to group 'sudo'", AC, OK, {"target_user": "bob", "group": "sudo"}),
    ("member_added", "useradd", "add 'bob' to shadow group 'sudo'", AC, OK, {"target_user": "bob"}),
    ("member_removed", "userdel", "delete 'bob' from group 'sudo'", AC, OK, {"target_user": "bob", "group": "sudo"}),
    ("member_changed_by", "gpasswd", "user bob added by root to group wheel", AC, OK,
     {"user": "root", "target_user": "bob", "group": "wheel", "membership": "added"}),
    ("user_renamed", "usermod", "change user name 'bob' to 'robert'", AC, OK,
     {"target_user": "bob", "new_name": "robert"}),
    ("user_modified", "usermod", "change user 'bob' shell from '/bin/sh' to '/bin/bash'", AC, OK,
     {"target_user": "bob", "change": "change", "attribute": "shell"}),
    ("user_modified", "usermod", "lock user 'bob' password", AC, OK, {"target_user": "bob", "change": "lock"}),
    ("password_changed", "passwd", "password for 'bob' changed by 'root'", AC, OK,
     {"user": "root", "target_user": "bob"}),
    ("password_expiry_changed", "chage", "changed password expiry for bob", AC, OK, {"target_user": "bob"}),
    # systemd-logind, login, cron, Kerberos rlogin, gdm, ftp
    ("logind_new_session", "systemd-logind", "New session 12 of user alice.", SS, OK,
     {"user": "alice", "session_id": "12"}),
    ("logind_new_session", "systemd-logind", "New session c3 of user gdm.", SS, OK, {"session_id": "c3"}),
    ("logind_removed_session", "systemd-logind", "Removed session 12.", SE, OK, {"session_id": "12"}),
    ("login_failed", "login", "FAILED LOGIN (1) on '/dev/tty1' FOR 'alice', Authentication failure", L, FAIL,
     {"user": "alice", "tty": "/dev/tty1", "attempts": "1"}),
    ("login_failed", "login", "FAILED LOGIN 2 FROM tty2 FOR root, Authentication failure", L, FAIL,
     {"user": "root", "tty": "tty2"}),
    ("login_failed", "login", "FAILED LOGIN SESSION FROM (null) FOR root, Authentication failure", L, FAIL,
     {"user": "root", "reason": "Authentication failure"}),
    ("login_root", "login", "ROOT LOGIN  on '/dev/tty1'", L, OK, {"user": "root", "tty": "/dev/tty1"}),
    ("login_root", "--", "root[2321]: ROOT LOGIN ON tty2", L, OK, {"user": "root", "tty": "tty2"}),
    ("login_success", "login", "LOGIN ON tty3 BY alice", L, OK, {"user": "alice", "tty": "tty3"}),
    ("cron_command", "CRON", "(root) CMD (cd / && run-parts --report /etc/cron.hourly)", Action.COMMAND, OK,
     {"user": "root", "command": "cd / && run-parts --report /etc/cron.hourly"}),
    ("kerberos_login_failed", "klogind", "Kerberos authentication failed ", AU, FAIL, {}),
    ("kerberos_login_refused", "klogind", "Authentication failed from 198.51.100.20 (198.51.100.20): Connection "
     "reset by peer", AU, FAIL, {"source_ip": "198.51.100.20"}),
    ("gdm_failed", "gdm-binary", "Couldn't authenticate user", AU, FAIL, {}),
    ("ftp_anonymous_login", "ftpd", "ANONYMOUS FTP LOGIN FROM 198.51.100.21, host.example.org (guest@example.org)", L,
     OK, {"user": "anonymous", "source_ip": "198.51.100.21"}),
    # logging daemons
    ("rsyslog_hup", "rsyslogd", '[origin software="rsyslogd" swVersion="8.2302.0" x-pid="640" '
     'x-info="https://www.rsyslog.com"] rsyslogd was HUPed', Action.LOG_CLEARED, OK, {"reason": "rotation"}),
    ("rsyslog_exiting", "rsyslogd", '[origin software="rsyslogd" swVersion="8.2302.0" x-pid="640" '
     'x-info="https://www.rsyslog.com"] exiting on signal 15.', Action.LOG_CLEARED, OK, {"reason": "logging_stopped"}),
    ("rsyslog_start", "rsyslogd", '[origin software="rsyslogd" swVersion="8.2302.0" x-pid="640" '
     'x-info="https://www.rsyslog.com"] start', SVC, OK, {}),
    ("journal_stopped", "systemd-journald", "Journal stopped", Action.LOG_CLEARED, OK, {"reason": "logging_stopped"}),
    ("journal_deleted", "systemd-journald", "Deleted archived journal /var/log/journal/0f3c/system@0001.journal "
     "(8.0M).", Action.LOG_CLEARED, OK, {"reason": "deleted", "path": "/var/log/journal/0f3c/system@0001.journal"}),
    ("journal_vacuumed", "systemd-journald", "Vacuuming done, freed 1.2G of archived journals from /var/log/journal.",
     Action.LOG_CLEARED, OK, {"freed": "1.2G"}),
    ("journal_started", "systemd-journald", "Journal started", SVC, OK, {}),
    ("audit_log_rotated", "auditd", "Audit daemon rotating log files", Action.LOG_CLEARED, OK, {"reason": "rotation"}),
    ("event_log_cleared", "Microsoft-Windows-Eventlog", "The audit log was cleared.", Action.LOG_CLEARED, OK,
     {"log_name": "audit", "reason": "cleared"}),
    ("event_log_cleared", "MSWinEventLog", "The System log file was cleared.", Action.LOG_CLEARED, OK,
     {"log_name": "System"}),
    ("audit_daemon_exiting", "auditd", "The audit daemon is exiting.", Action.LOG_CLEARED, OK, {}),
    # time daemons
    ("clock_wrong", "chronyd", "System clock wrong by 3.216042 seconds, adjustment started", Action.CLOCK_CHANGE, OK,
     {"offset": "3.216042"}),
    ("clock_wrong", "chronyd", "System clock was stepped by -2.500113 seconds", Action.CLOCK_CHANGE, OK,
     {"offset": "-2.500113"}),
    ("clock_jump_detected", "chronyd", "Backward time jump detected!", Action.CLOCK_CHANGE, OK,
     {"direction": "Backward"}),
    ("time_changed", "systemd", "Time has been changed", Action.CLOCK_CHANGE, OK, {}),
    ("time_changed", "systemd-timesyncd", "Time has been changed", Action.CLOCK_CHANGE, OK, {}),
    ("clock_restored", "systemd-timesyncd", "System clock time unset or jumped backwards, restoring from recorded "
     "timestamp: Mon 2025-01-06 10:00:00 UTC", Action.CLOCK_CHANGE, OK, {}),
    ("clock_step", "ntpd", "0.0.0.0 061c 0c clock_step +0.563 s", Action.CLOCK_CHANGE, OK, {"offset": "+0.563"}),
    ("clock_step", "ntpd", "time reset -0.221 s", Action.CLOCK_CHANGE, OK, {"offset": "-0.221"}),
    ("clock_set_from_server", "ntpdate", "step time server 192.0.2.123 offset 1.234 sec", Action.CLOCK_CHANGE, OK,
     {"time_server": "192.0.2.123", "method": "step"}),
    ("clock_adjusted", "openntpd", "adjusting local clock by -0.120871s", Action.CLOCK_CHANGE, OK,
     {"offset": "-0.120871"}),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "program", "message", "action", "outcome", "expected"), CASES)
def test_known_messages_are_classified(rule, program, message, action, outcome, expected):
    found = classify(program, message)
    assert found is not None, f"{program}: {message!r} was not classified"
    assert (found.extra["auth_event"], found.action, found.outcome) == (rule, action, outcome)
    for name, value in expected.items():
        actual = getattr(found, name) if name in FIELDS else found.extra.get(name)
        assert actual == value, f"{name}: {actual!r} != {value!r}"


def test_every_rule_has_an_example_above_or_in_the_coverage_table():
    assert {rule.name for rule in RULES} == {case[0] for case in CASES} | {
        entry.rule for entry in COVERAGE if entry.rule
    }


def test_rules_sharing_a_name_are_variants_with_the_same_meaning():
    meaning: dict[str, tuple[Action, Outcome]] = {}
    for rule in RULES:
        assert meaning.setdefault(rule.name, (rule.action, rule.outcome)) == (rule.action, rule.outcome), rule.name


@pytest.mark.parametrize(
    ("program", "message"),
    [
        ("kernel", "Linux version 6.1.0-18-amd64"),
        ("sudo", "Accepted password for alice from 192.0.2.10 port 22 ssh2"),  # a sshd message from another program
        ("su", "New session 12 of user alice."),
        ("sshd", ""),
        ("", "Accepted password for alice from 192.0.2.10 port 22 ssh2"),
        ("sshd", "message repeated 3 times: [ Starting session: shell on pts/0 for alice from 192.0.2.1 port 2 id 0]"),
        ("ntpd", "synchronized to 192.0.2.123, stratum 2"),
    ],
)
def test_unknown_messages_are_not_classified(program, message):
    assert classify(program, message) is None


def test_a_repeated_message_is_classified_as_its_text_with_the_count():
    found = classify("sshd", "message repeated 5 times: [ Failed password for root from 203.0.113.9 port 42 ssh2]")
    assert found is not None
    assert (found.action, found.outcome, found.user, found.source_ip) == (L, FAIL, "root", "203.0.113.9")
    assert found.extra["repeated"] == 5


@pytest.mark.parametrize(
    ("program", "normalised"),
    [("sshd", "sshd"), ("CRON", "cron"), ("/usr/sbin/sshd", "sshd"), ("sshd(pam_unix)", "sshd"), ("", "")],
)
def test_program_names_are_normalised(program, normalised):
    assert normalise_program(program) == normalised


def test_rules_are_compiled_once_per_distinct_selection():
    assert rules_for("sshd") is rules_for("sshd-session")
    assert rules_for("kernel") is rules_for("an-unknown-daemon")  # only the rules for any program
    assert rules_for("sshd") is not rules_for("kernel")


def test_a_classification_is_frozen():
    found = classify("systemd-logind", "Removed session 7.")
    assert isinstance(found, Classification)
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.user = "mallory"  # type: ignore[misc]


def test_apply_classification_fills_the_event_in_place():
    event = Event(
        time=datetime(2025, 5, 1, tzinfo=UTC),
        program="sshd",
        extra={"facility": "auth"},
        message="Accepted publickey for alice from 192.0.2.10 port 50122 ssh2",
    )
    assert apply_classification(event) is event
    assert (event.action, event.outcome, event.user, event.source_ip) == (L, OK, "alice", "192.0.2.10")
    assert event.extra == {
        "facility": "auth",
        "auth_event": "ssh_accepted",
        "auth_method": "publickey",
        "source_port": "50122",
    }


def test_apply_classification_leaves_unknown_messages_and_unnamed_fields_alone():
    event = Event(time=None, program="kernel", message="eth0: link up", user="kept")
    apply_classification(event)
    assert (event.action, event.outcome, event.user, event.extra) == (Action.OTHER, UNK, "kept", {})
    event = Event(time=None, program="systemd-logind", message="Removed session 9.", user="kept")
    apply_classification(event)
    assert (event.action, event.session_id, event.user) == (SE, "9", "kept")


def _first_rule_by_brute_force(program: str, text: str) -> str | None:
    """The reference the compiled, first-character-dispatched rule sets must agree with: each rule in order."""
    name = normalise_program(program)
    for rule in RULES:
        if (not rule.programs or name in rule.programs) and rule.pattern.match(text):
            return rule.name
    return None


@pytest.mark.parametrize(
    ("program", "message"),
    [(case[1], case[2]) for case in CASES] + [(row.program, row.message) for row in COVERAGE if row.message],
)
def test_the_dispatched_rule_sets_pick_the_rule_a_plain_scan_picks(program, message):
    found = classify(program, message)
    text = message.lstrip()
    for prefix in ("[ID 800047 auth.info] ", "error: ", "fatal: "):
        text = text.removeprefix(prefix)
    repeated = re.match(r"message repeated \d+ times: \[ (.*)\]$", text)
    text = re.sub(r"^pam_\w+\([^:)]+:\w+\): ", "", repeated[1] if repeated else text)
    assert (found.extra["auth_event"] if found else None) == _first_rule_by_brute_force(program, text)


@pytest.mark.parametrize(
    ("pattern", "first"),
    [(r"^Accepted", "A"), (r"^(?:Invalid|Illegal) user", "II"), (r"^(?:PAM )?[0-9]+ more", "0123456789P"),
     (r"^[+-] ", "+-"), (r"^(?P<user>\S+) : ", None), (r"^(?:x)?(?:y)?z", "xyz"), (r"^a*b", "ab"), (r"^.*b", None),
     (r"^(?i:abc)", None), (r"(?i)^abc", None)],
)  # fmt: skip
def test_first_characters_of_a_pattern(pattern, first):
    found = first_characters(re.compile(pattern))
    assert (None if found is None else "".join(sorted(found))) == (
        None if first is None else "".join(sorted(set(first)))
    )
