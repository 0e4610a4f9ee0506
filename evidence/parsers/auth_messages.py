"""What an authentication-related syslog message means, independent of how it was transported.

OpenSSH, PAM, sudo, su, shadow-utils, systemd-logind, login, cron, the logging daemons and the time
daemons write free-text messages; the same text reaches us through RFC 3164 files, RFC 5424 frames or
the journal. ``classify(program, message)`` maps one message to an ISMS ``Action`` and ``Outcome``
plus the people, address, command and session it names, or ``None`` when it is not a message we know
(the caller then keeps the event as ``Action.OTHER``).

The knowledge is a table, not code: each ``Rule`` names the programs it applies to, one compiled
regular expression, the action and outcome, and constants. The regex's named groups are the field
mapping: a group named after a ``Classification`` field (``user``, ``target_user``, ``source_ip``,
``command``, ``session_id``) fills that field, any other named group lands in ``extra``. Rules are
tried in table order and the first match wins, so a specific rule comes before a general one.

For speed, the rules that apply to a program are compiled into one regular expression (``RuleSet``), so
classifying a message costs one regex call whatever the size of the table.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from evidence.parsers.base import Action, Event, Outcome


@dataclass(frozen=True, slots=True)
class Classification:
    """The meaning of one message. Empty strings for what the message does not name."""

    action: Action
    outcome: Outcome
    user: str = ""  # who acted (the person logging on, the sudo/su caller)
    target_user: str = ""  # whom it was done to or as (sudo USER=, su target, created account)
    source_ip: str = ""
    command: str = ""
    session_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # "auth_event" names the rule; JSON values only


_FIELD_NAMES = frozenset(f.name for f in fields(Classification)) - {"action", "outcome", "extra"}


@dataclass(frozen=True, slots=True)
class Rule:
    name: str  # stable identifier, reported as extra["auth_event"]
    programs: frozenset[str]  # normalised program names (see ``normalise_program``); empty: any program
    pattern: re.Pattern[str]  # anchored with ^; matched against the message without PAM prefix or indentation
    action: Action
    outcome: Outcome
    constants: Mapping[str, Any]  # fields or extra values the message implies (e.g. user="root")


def _rule(
    name: str, programs: frozenset[str], action: Action, outcome: Outcome, pattern: str, **constants: Any
) -> Rule:
    return Rule(name, programs, re.compile(pattern), action, outcome, MappingProxyType(constants))


ANY: frozenset[str] = frozenset()
SSHD = frozenset({"sshd", "sshd-session", "sshd-auth"})  # OpenSSH 9.8 split the per-connection process off
SU = frozenset({"su"})
SUDO = frozenset({"sudo"})
SHADOW = frozenset(
    {"useradd", "userdel", "usermod", "groupadd", "groupdel", "groupmod", "passwd", "chpasswd", "gpasswd", "chage"}
)
LOGIND = frozenset({"systemd-logind"})
LOGIN = frozenset({"login", "getty", "agetty", "mingetty"})
CRON = frozenset({"cron", "crond"})
KERBEROS_LOGIN = frozenset({"klogind", "eklogind", "kshd"})
FTPD = frozenset({"ftpd", "in.ftpd", "vsftpd", "proftpd"})
GDM = frozenset({"gdm", "gdm-binary", "gdm-password"})
RSYSLOG = frozenset({"rsyslogd"})
JOURNALD = frozenset({"systemd-journald"})
AUDITD = frozenset({"auditd"})
TIME_DAEMONS = frozenset(
    {"chronyd", "ntpd", "ntpdate", "openntpd", "systemd-timesyncd", "systemd", "systemd-timedated"}
)

# Shared fragments (kept small: each rule should still read as the message it matches).
_FROM_ADDRESS = r"from (?P<source_ip>\S+)(?: port (?P<source_port>\d+))?"
_SSH_LINE_END = r"(?: ssh2)?(?: \[preauth\])?\s*$"
_PAM_AUTH_FAILURE_TAIL = (
    r"logname=(?P<logname>\S*) uid=(?P<uid>\d*) euid=\d* tty=(?P<tty>\S*) ruser=(?P<ruser>\S*) rhost=(?P<source_ip>\S*)"
    r"(?:\s+user=(?P<user>\S+))?"
)
_SUDO_TAIL = (
    r"TTY=(?P<tty>[^ ;]*) ; PWD=(?P<pwd>.*?) ; USER=(?P<target_user>[^ ;]+)"
    r"(?: ; (?!COMMAND=)[A-Z_]+=[^;]*)* ; COMMAND=(?P<command>.*?)\s*$"
)
_OPENED_BY = r" by (?P<user>[^\s(]*)(?:\(uid=(?P<uid>\d+)\))?"

S, F, U = Outcome.SUCCESS, Outcome.FAILURE, Outcome.UNKNOWN  # short names keep the table one rule per line or two

# fmt: off
RULES: tuple[Rule, ...] = (
    # --- OpenSSH ------------------------------------------------------------------------------------------------
    _rule("ssh_accepted", SSHD, Action.LOGON, S,
          r"^Accepted (?P<auth_method>[\w/-]+) for (?P<user>.*?) " + _FROM_ADDRESS
          + r"(?: ssh2)?(?:: (?P<key_type>\S+) (?P<key_fingerprint>\S+))?"),
    _rule("ssh_failed_invalid_user", SSHD, Action.LOGON, F,
          r"^Failed (?P<auth_method>[\w/-]+) for invalid user (?P<user>.*?) " + _FROM_ADDRESS + _SSH_LINE_END,
          invalid_user=True),
    _rule("ssh_failed", SSHD, Action.LOGON, F,
          r"^Failed (?P<auth_method>[\w/-]+) for (?P<user>.*?) " + _FROM_ADDRESS + _SSH_LINE_END),
    _rule("ssh_invalid_user", SSHD, Action.LOGON, F,
          r"^Invalid user (?P<user>.*?) " + _FROM_ADDRESS + _SSH_LINE_END, invalid_user=True),
    _rule("ssh_user_not_allowed", SSHD, Action.LOGON, F,
          r"^User (?P<user>\S+) from (?P<source_ip>\S+) not allowed because (?P<reason>.+)"),
    _rule("ssh_max_auth_attempts", SSHD, Action.LOGON, F,
          r"^maximum authentication attempts exceeded for (?:invalid user )?(?P<user>.*?) "
          + _FROM_ADDRESS),
    _rule("ssh_too_many_failures", SSHD, Action.LOGON, F,
          r"^Disconnecting(?: \S+)?: Too many authentication failures"
          r"(?: for (?:invalid user )?(?P<user>[^\[]*?))?(?: \[preauth\])?$"),
    _rule("ssh_pam_failure", SSHD, Action.AUTHENTICATION, F,
          r"^PAM: Authentication failure for (?:illegal user |invalid user )?(?P<user>.*?) "
          r"from (?P<source_ip>\S+)$"),
    _rule("ssh_auth_aborted", SSHD, Action.LOGON, F,  # the client gave up (or was cut off) while authenticating
          r"^(?:Connection (?:closed|reset)|Disconnected) (?:by|from) (?P<user_state>authenticating|invalid) user "
          r"(?P<user>.*?) (?P<source_ip>\S+) port (?P<source_port>\d+)"),
    _rule("ssh_disconnected_user", SSHD, Action.LOGOFF, S,
          r"^Disconnected from user (?P<user>.*?) (?P<source_ip>\S+) port (?P<source_port>\d+)"),
    _rule("ssh_connection_closed", SSHD, Action.NETWORK, U,
          r"^(?:Connection (?:closed|reset) by|Disconnected from) (?P<source_ip>[^\s\[]+)"
          r"(?: port (?P<source_port>\d+))?"),
    _rule("ssh_received_disconnect", SSHD, Action.NETWORK, U,
          r"^Received disconnect from (?P<source_ip>\S+?)(?: port (?P<source_port>\d+))?:\s?"
          r"(?P<disconnect_code>\d+): (?P<reason>.*?)(?: \[preauth\])?$"),
    _rule("ssh_no_identification", SSHD, Action.NETWORK, F,
          r"^Did not receive identification string " + _FROM_ADDRESS),
    _rule("ssh_possible_break_in", SSHD, Action.NETWORK, U,
          r"^(?:reverse mapping checking getaddrinfo for (?P<source_host>\S+) \[(?P<source_ip>[^\]]+)\] failed"
          r"|Address (?P<address>\S+) maps to (?P<mapped_host>\S+), but this does not map back to the address)"
          r" - POSSIBLE BREAK-IN ATTEMPT!", alert="possible_break_in"),
    _rule("ssh_listening", SSHD, Action.SERVICE, S,
          r"^Server listening on (?P<listen_address>\S+) port (?P<listen_port>\d+)"),
    _rule("ssh_terminating", SSHD, Action.SERVICE, S, r"^Received signal (?P<signal>\d+); terminating"),
    # --- su: to root is privilege use, to anyone else a session as that user --------------------------------
    _rule("su_session_opened_root", SU, Action.PRIVILEGE_USE, S,
          r"^session opened for user (?P<target_user>root)(?:\(uid=0\))?" + _OPENED_BY),
    _rule("su_session_opened", SU, Action.SESSION_START, S,
          r"^session opened for user (?P<target_user>[^\s(]+)(?:\(uid=\d+\))?" + _OPENED_BY),
    _rule("su_session_closed", SU, Action.SESSION_END, S,
          r"^session closed for user (?P<target_user>\S+)"),
    _rule("su_failed_root", SU, Action.PRIVILEGE_USE, F,
          r"^FAILED SU \(to (?P<target_user>root)\) (?P<user>\S+) on (?P<tty>\S+)"),
    _rule("su_failed", SU, Action.AUTHENTICATION, F,
          r"^FAILED SU \(to (?P<target_user>[^)]+)\) (?P<user>\S+) on (?P<tty>\S+)"),
    _rule("su_failed_root_bsd", SU, Action.PRIVILEGE_USE, F,  # RFC 3164 section 5.4's example
          r"^'su (?P<target_user>root)' failed for (?P<user>\S+) on (?P<tty>\S+)"),
    _rule("su_successful", SU, Action.AUTHENTICATION, S,
          r"^Successful su for (?P<target_user>\S+) by (?P<user>\S+)"),
    # --- sudo ---------------------------------------------------------------------------------------------------
    _rule("sudo_command", SUDO, Action.PRIVILEGE_USE, S, r"^(?P<user>[^\s:]+) : " + _SUDO_TAIL),
    _rule("sudo_refused", SUDO, Action.PRIVILEGE_USE, F,  # "user NOT in sudoers", "3 incorrect password attempts"
          r"^(?P<user>[^\s:]+) : (?P<reason>[^;]+?) ; " + _SUDO_TAIL),
    _rule("sudo_session_opened", SUDO, Action.SESSION_START, S,
          r"^session opened for user (?P<target_user>[^\s(]+)(?:\(uid=\d+\))?" + _OPENED_BY),
    _rule("sudo_session_closed", SUDO, Action.SESSION_END, S,
          r"^session closed for user (?P<target_user>\S+)"),
    # --- shadow-utils: accounts and groups ----------------------------------------------------------------------
    _rule("user_created", SHADOW, Action.ACCOUNT_CHANGE, S,
          r"^new user: name=(?P<target_user>[^,]+), UID=(?P<uid>\d+), GID=(?P<gid>\d+)"
          r"(?:, home=(?P<home>[^,]*))?(?:, shell=(?P<shell>[^,]*))?", change="user_created"),
    _rule("group_created", SHADOW, Action.ACCOUNT_CHANGE, S,
          r"^(?:new group|group added to \S+): name=(?P<group>[^,]+)(?:, GID=(?P<gid>\d+))?",
          change="group_created"),
    _rule("user_deleted", SHADOW, Action.ACCOUNT_CHANGE, S,
          r"^delete user '(?P<target_user>[^']+)'", change="user_deleted"),
    _rule("group_deleted", SHADOW, Action.ACCOUNT_CHANGE, S,
          r"^(?:removed (?:shadow )?group '(?P<group>[^']+)' owned by '(?P<target_user>[^']+)'"
          r"|group '(?P<deleted_group>[^']+)' removed|remove group '(?P<removed_group>[^']+)')",
          change="group_deleted"),
    _rule("member_added", SHADOW, Action.ACCOUNT_CHANGE, S,
          r"^add '(?P<target_user>[^']+)' to (?:shadow )?group '(?P<group>[^']+)'", change="member_added"),
    _rule("member_removed", SHADOW, Action.ACCOUNT_CHANGE, S,
          r"^delete '(?P<target_user>[^']+)' from (?:shadow )?group '(?P<group>[^']+)'", change="member_removed"),
    _rule("member_changed_by", SHADOW, Action.ACCOUNT_CHANGE, S,  # gpasswd
          r"^user '?(?P<target_user>[^' ]+)'? (?P<membership>added|removed) by '?(?P<user>[^' ]+)'? (?:to|from) "
          r"group '?(?P<group>[^' ]+)'?", change="membership"),
    _rule("user_renamed", SHADOW, Action.ACCOUNT_CHANGE, S,
          r"^change user name '(?P<target_user>[^']+)' to '(?P<new_name>[^']+)'", change="user_renamed"),
    _rule("user_modified", SHADOW, Action.ACCOUNT_CHANGE, S,  # usermod: "change user 'bob' shell from ..."
          r"^(?P<change>change|lock|unlock) user '(?P<target_user>[^']+)'(?: (?P<attribute>\S+))?"),
    _rule("password_changed", SHADOW, Action.ACCOUNT_CHANGE, S,
          r"^password for '(?P<target_user>[^']+)' changed by '(?P<user>[^']+)'", change="password_changed"),
    _rule("password_expiry_changed", SHADOW, Action.ACCOUNT_CHANGE, S,
          r"^changed password expiry for (?P<target_user>\S+)", change="password_expiry_changed"),
    # --- systemd-logind, login, cron ----------------------------------------------------------------------------
    _rule("logind_new_session", LOGIND, Action.SESSION_START, S,
          r"^New session (?P<session_id>[^\s.]+) of user (?P<user>.+?)\.?$"),
    _rule("logind_removed_session", LOGIND, Action.SESSION_END, S, r"^Removed session (?P<session_id>[^\s.]+)\.?$"),
    _rule("login_failed", LOGIN, Action.LOGON, F,
          r"^FAILED LOGIN (?:\(?(?P<attempts>\d+)\)?|SESSION) (?:on|FROM) '?(?P<tty>[^' ]+)'?"
          r"(?: FROM '?(?P<source_ip>[^' ]+)'?)? FOR '?(?P<user>[^',]*)'?, (?P<reason>.*)"),
    _rule("login_root", LOGIN | {"--"}, Action.LOGON, S,  # old login(1) wrote it under the tag "-- root[pid]"
          r"^(?:\S+: )?ROOT LOGIN +(?:ON|on) '?(?P<tty>[^' ]+)'?(?: FROM '?(?P<source_ip>[^' ]+)'?)?", user="root"),
    _rule("login_success", LOGIN, Action.LOGON, S,
          r"^LOGIN ON '?(?P<tty>[^' ]+)'? BY '?(?P<user>[^' ]+)'?(?: FROM '?(?P<source_ip>[^' ]+))?"),
    _rule("cron_command", CRON, Action.COMMAND, S, r"^\((?P<user>[^)]+)\) CMD \((?P<command>.*)\)\s*$"),
    _rule("kerberos_login_failed", KERBEROS_LOGIN, Action.AUTHENTICATION, F, r"^Kerberos authentication failed"),
    _rule("kerberos_login_refused", KERBEROS_LOGIN, Action.AUTHENTICATION, F,
          r"^Authentication failed from (?P<source_ip>\S+) \((?P<source_host>[^)]*)\): (?P<reason>.*)"),
    _rule("gdm_failed", GDM, Action.AUTHENTICATION, F, r"^Couldn't authenticate user"),
    _rule("ftp_anonymous_login", FTPD, Action.LOGON, S,  # the parenthesised "password" (an e-mail) is not kept
          r"^ANONYMOUS FTP LOGIN FROM (?P<source_ip>[^\s,]+)", user="anonymous"),
    # --- logging daemons: rotation, deletion, stops -------------------------------------------------------------
    _rule("rsyslog_hup", RSYSLOG, Action.LOG_CLEARED, S,
          r"^\[origin software=\"rsyslogd\"[^\]]*\] rsyslogd was HUPed", reason="rotation"),
    _rule("rsyslog_exiting", RSYSLOG, Action.LOG_CLEARED, S,
          r"^\[origin software=\"rsyslogd\"[^\]]*\] exiting on signal (?P<signal>\d+)", reason="logging_stopped"),
    _rule("rsyslog_start", RSYSLOG, Action.SERVICE, S, r"^\[origin software=\"rsyslogd\"[^\]]*\] start"),
    _rule("journal_stopped", JOURNALD, Action.LOG_CLEARED, S, r"^Journal stopped", reason="logging_stopped"),
    _rule("journal_deleted", JOURNALD, Action.LOG_CLEARED, S,
          r"^Deleted archived journal (?P<path>\S+)", reason="deleted"),
    _rule("journal_vacuumed", JOURNALD, Action.LOG_CLEARED, S,
          r"^Vacuuming done, freed (?P<freed>\S+) of archived journals", reason="deleted"),
    _rule("journal_started", JOURNALD, Action.SERVICE, S, r"^Journal started"),
    _rule("audit_log_rotated", AUDITD, Action.LOG_CLEARED, S, r"^Audit daemon rotating log files", reason="rotation"),
    _rule("event_log_cleared", ANY, Action.LOG_CLEARED, S,  # Windows event logs forwarded over syslog
          r"^The (?P<log_name>[\w -]{1,40}?) log(?: file)? was cleared", reason="cleared"),
    _rule("audit_daemon_exiting", AUDITD, Action.LOG_CLEARED, S,
          r"^The audit daemon is exiting", reason="logging_stopped"),
    # --- time daemons -------------------------------------------------------------------------------------------
    _rule("clock_wrong", TIME_DAEMONS, Action.CLOCK_CHANGE, S,  # chronyd
          r"^System clock (?:wrong|was stepped) by (?P<offset>[-+]?[\d.]+) seconds"),
    _rule("clock_jump_detected", TIME_DAEMONS, Action.CLOCK_CHANGE, S,
          r"^(?P<direction>Forward|Backward) time jump detected"),
    _rule("time_changed", TIME_DAEMONS, Action.CLOCK_CHANGE, S, r"^Time has been changed"),
    _rule("clock_restored", TIME_DAEMONS, Action.CLOCK_CHANGE, S, r"^System clock time unset or jumped backwards"),
    _rule("clock_step", TIME_DAEMONS, Action.CLOCK_CHANGE, S,  # ntpd: "0.0.0.0 061c 0c clock_step +0.563 s"
          r"^(?:\S+ \S+ \S+ clock_step|time reset) (?P<offset>[-+]?[\d.]+) ?s\b"),
    _rule("clock_set_from_server", TIME_DAEMONS, Action.CLOCK_CHANGE, S,  # ntpdate
          r"^(?P<method>step|adjust) time server (?P<time_server>\S+) offset (?P<offset>[-+]?[\d.]+) sec"),
    _rule("clock_adjusted", TIME_DAEMONS, Action.CLOCK_CHANGE, S,  # openntpd
          r"^adjusting (?:local )?clock by (?P<offset>[-+]?[\d.]+)s"),
    # --- PAM, from any service (after the service-specific rules; the "pam_unix(sshd:auth): " prefix is removed) --
    _rule("pam_auth_failure", ANY, Action.AUTHENTICATION, F,
          r"^authentication failure; " + _PAM_AUTH_FAILURE_TAIL),
    _rule("pam_more_auth_failures", ANY, Action.AUTHENTICATION, F,
          r"^(?:PAM )?(?P<failures>\d+) more authentication failures?; " + _PAM_AUTH_FAILURE_TAIL),
    _rule("pam_session_opened", ANY, Action.SESSION_START, S,
          r"^session opened for user (?P<user>[^\s(]+)(?:\(uid=(?P<uid>\d+)\))? by "),
    _rule("pam_session_closed", ANY, Action.SESSION_END, S, r"^session closed for user (?P<user>\S+)"),
    _rule("pam_password_changed", ANY, Action.ACCOUNT_CHANGE, S,
          r"^password changed for (?P<target_user>\S+)", change="password_changed"),
)
# fmt: on

_REPEATED = re.compile(
    r"(?:last )?message repeated (?P<count>[0-9]{1,10}) times?(?:: \[ ?(?P<message>.*?)\s*\])?\s*$", re.S
)
_PAM_PREFIX = re.compile(r"(?P<pam_module>pam_\w+)\((?P<pam_service>[^:)]+):(?P<pam_type>\w+)\): ")
_PROGRAM_QUALIFIER = re.compile(r"\(.*\)$")  # "sshd(pam_unix)" in old Red Hat logs
_GROUP_NAME = re.compile(r"\(\?P<(\w+)>")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


@dataclass(frozen=True, slots=True)
class _Resolution:
    """How a match of one rule (inside a ``RuleSet`` pattern) fills an event."""

    rule: Rule
    field_groups: tuple[tuple[int, str], ...]  # (group number in the combined pattern, event field)
    extra_groups: tuple[tuple[int, str], ...]  # (group number in the combined pattern, extra key)
    constant_fields: tuple[tuple[str, str], ...]
    constant_extra: dict[str, Any]  # with the rule's name as "auth_event"

    def apply(self, match: re.Match[str], context: dict[str, Any], event: Event) -> None:
        event.action, event.outcome = self.rule.action, self.rule.outcome
        extra = event.extra
        extra.update(self.constant_extra)
        if context:
            extra.update(context)
        for number, name in self.extra_groups:
            value = match[number]
            if value is not None:
                extra[name] = value
        for name, value in self.constant_fields:
            setattr(event, name, value)
        for number, name in self.field_groups:
            value = match[number]
            if not value:
                continue
            value = value.strip()
            if name == "source_ip" and not _is_ip_address(value):
                extra.setdefault("source_host", value)  # PAM's rhost and a few sshd messages may name a host
            else:
                setattr(event, name, value)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rules of one program compiled into a single anchored alternation: one regex call per message.

    Each rule's pattern becomes the alternative ``...(?P<r{i}>)`` with its groups renamed ``g{i}_{name}``: that
    empty group, closing the alternative, is the match's ``lastindex`` and tells which rule matched; and each
    alternative still starts with its rule's first literal, which lets the regex engine skip it at once.
    """

    pattern: re.Pattern[str]
    resolutions: dict[int, _Resolution]  # by the number of the group closing the rule's alternative

    @classmethod
    def compile(cls, rules: tuple[Rule, ...]) -> RuleSet:
        alternatives = []
        for index, rule in enumerate(rules):
            text = rule.pattern.pattern
            if not text.startswith("^") or "(?P=" in text:
                raise ValueError(f"rule {rule.name}: patterns are anchored with ^ and use no back-references")
            alternatives.append(_GROUP_NAME.sub(rf"(?P<g{index}_\1>", text[1:]) + f"(?P<r{index}>)")
        pattern = re.compile("|".join(alternatives) or "(?!)")  # no rules: a pattern that never matches
        resolutions = {
            pattern.groupindex[f"r{index}"]: _resolution(index, rule, pattern) for index, rule in enumerate(rules)
        }
        return cls(pattern, resolutions)

    def find(self, text: str) -> tuple[_Resolution, re.Match[str]] | None:
        """The first rule matching ``text`` (as its resolution) and the match, or ``None``."""
        match = self.pattern.match(text)
        return None if match is None else (self.resolutions[match.lastindex or 0], match)


def _resolution(index: int, rule: Rule, pattern: re.Pattern[str]) -> _Resolution:
    groups = [(pattern.groupindex[f"g{index}_{name}"], name) for name in rule.pattern.groupindex]
    return _Resolution(
        rule=rule,
        field_groups=tuple((number, name) for number, name in groups if name in _FIELD_NAMES),
        extra_groups=tuple((number, name) for number, name in groups if name not in _FIELD_NAMES),
        constant_fields=tuple((name, str(value)) for name, value in rule.constants.items() if name in _FIELD_NAMES),
        constant_extra={"auth_event": rule.name}
        | {name: value for name, value in rule.constants.items() if name not in _FIELD_NAMES},
    )


def normalise_program(program: str) -> str:
    """``/usr/sbin/CRON`` -> ``cron``, ``sshd(pam_unix)`` -> ``sshd``."""
    name = program.rsplit("/", 1)[-1]
    return _PROGRAM_QUALIFIER.sub("", name).lower()


@functools.lru_cache(maxsize=4096)
def rules_for(program: str) -> RuleSet:
    """The rules that may apply to messages of ``program``, in table order, compiled together."""
    name = normalise_program(program)
    return _rule_set(tuple(index for index, rule in enumerate(RULES) if not rule.programs or name in rule.programs))


@functools.cache
def _rule_set(indices: tuple[int, ...]) -> RuleSet:
    """One compiled set per distinct selection of rules (a few dozen at most), whatever the programs seen."""
    return RuleSet.compile(tuple(RULES[index] for index in indices))


def classify(program: str, message: str) -> Classification | None:
    """The meaning of ``message`` logged by ``program``, or ``None`` if no rule knows it."""
    found = _find(program, message)
    if found is None:
        return None
    resolution, match, context = found
    scratch = Event(time=None)
    resolution.apply(match, context, scratch)
    named = {name: getattr(scratch, name) for name in _FIELD_NAMES}
    return Classification(scratch.action, scratch.outcome, extra=scratch.extra, **named)


def apply_classification(event: Event) -> Event:
    """Fill ``event``'s action, outcome, the fields its message names and extra values (in place; returned).

    The parsers' shared enrichment step: it writes straight into the event, which matters per line.
    """
    found = _find(event.program, event.message)
    if found is not None:
        resolution, match, context = found
        resolution.apply(match, context, event)
    return event


def _find(program: str, message: str) -> tuple[_Resolution, re.Match[str], dict[str, Any]] | None:
    """The rule for ``message``, its match, and what the message's wrapping said.

    Before the rules see it, the text loses its indentation, the "error: " that sshd puts before its
    error-level messages, rsyslog's "message repeated N times: [ text ]" wrapper (kept as ``repeat_count``)
    and the PAM module prefix "pam_unix(sshd:auth): " (kept as ``pam_module``, ``pam_service``, ``pam_type``).
    """
    text, context = message.lstrip().removeprefix("error: "), {}
    if text.startswith(("message repeated", "last message repeated")):
        repeated = _REPEATED.match(text)
        if repeated is None or not repeated["message"]:
            return None
        text, context["repeat_count"] = repeated["message"], int(repeated["count"])
    if text.startswith("pam_"):
        pam = _PAM_PREFIX.match(text)
        if pam is not None:
            text = text[pam.end() :]
            context.update(pam.groupdict())
    found = rules_for(program).find(text)
    return None if found is None else (*found, context)


def _is_ip_address(text: str) -> bool:
    if _IPV4.fullmatch(text):
        return True
    if ":" not in text:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True
