"""The table of authentication messages that ``evidence.parsers.auth_messages`` classifies: one ``Rule``
per message template (programs, anchored regular expression, action, outcome, constants), in the
order they are tried. Peer addresses are anchored where the daemon writes them, never inside text a
client chooses (see ``auth_coverage`` for the templates, their sources and test lines)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from evidence.parsers.base import Action, Outcome


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
R_SERVICES = frozenset({"rlogind", "in.rlogind", "rshd", "in.rshd"})
FTPD = frozenset({"ftpd", "in.ftpd", "vsftpd", "proftpd"})
GDM = frozenset({"gdm", "gdm-binary", "gdm-password"})
RSYSLOG = frozenset({"rsyslogd"})
JOURNALD = frozenset({"systemd-journald"})
AUDITD = frozenset({"auditd"})
DROPBEAR = frozenset({"dropbear"})
XINETD = frozenset({"xinetd"})
TIME_DAEMONS = frozenset(
    {"chronyd", "ntpd", "ntpdate", "openntpd", "systemd-timesyncd", "systemd", "systemd-timedated"}
)

# Shared fragments (kept small: each rule should still read as the message it matches).
#
# Where the peer address is (issue 13): sshd prints the client's user name unbounded and before the address, and
# some messages carry client text after it too (certificate key IDs, hostbased client names, disconnect reasons).
# So every rule anchors the address on text the daemon wrote: the rest of the line after the address must be
# daemon text up to the end of the line (" port N", " ssh2", ": KEYTYPE FINGERPRINT", " [preauth]"). Only the
# place where the daemon put the address can satisfy that (after any other place, the real address and its
# " port N" follow), so the parse is the same whatever the user name contains. Where client text follows the
# address too, a line is only read when exactly one place could hold the address; otherwise the attempt is still
# stored, with ``peer_ambiguous`` and neither user nor address.
_PREAUTH = r"(?: \[preauth\])?\s*$"
_SSH_PEER = r"from (?P<source_ip>\S+) port (?P<source_port>\d+)"
_SSH_ANCHOR = r" from \S+ port \d+ ssh[12]\b"  # where auth_log() puts the address; never inside a trusted parse
_KEY_TYPE = r"[A-Z][A-Z0-9-]*(?:@openssh\.com)?"
_FINGERPRINT = r"(?:(?:SHA256|SHA384|SHA512|SHA1|MD5):[A-Za-z0-9+/=:]+|[0-9a-f]{2}(?::[0-9a-f]{2}){15})"  # no spaces
_NO_ANCHOR = rf"(?:(?!{_SSH_ANCHOR}).)*"
_SSH_USER = r"for (?:(?P<flag_invalid_user>invalid user |illegal user ))?"


def _ssh_auth_log(verb: str) -> str:
    """OpenSSH auth_log(): "%s %s%s%s for %s%.100s from %.200s port %d ssh2%s%s" (5.x: "... port %d%s").

    The usual line: nothing the client chose after the address (a key's type and fingerprint at most).
    """
    return (
        rf"^{verb} (?P<auth_method>[\w@.-]+(?:/[\w@.-]+)?) {_SSH_USER}(?P<user>.*?) {_SSH_PEER}(?: ssh[12])?"
        rf"(?:: (?P<key_type>{_KEY_TYPE}) (?P<key_fingerprint>{_FINGERPRINT}))?{_PREAUTH}"
    )


def _ssh_auth_log_client_info(verb: str) -> str:
    """An auth_log() line with client text after the address (certificate ID, hostbased client names): read
    only when neither the user nor that text holds another place for an address."""
    return (
        rf"^{verb} (?P<auth_method>[\w@.-]+(?:/[\w@.-]+)?) {_SSH_USER}(?P<user>{_NO_ANCHOR}) {_SSH_PEER} "
        rf"ssh[12]: (?P<auth_info>{_NO_ANCHOR}?){_PREAUTH}"
    )


def _ssh_auth_log_ambiguous(verb: str) -> str:
    """An auth_log() line whose address could be in more than one place: neither user nor address is kept."""
    return rf"^{verb} (?P<auth_method>[\w@.-]+(?:/[\w@.-]+)?) {_SSH_USER}.*{_SSH_ANCHOR}: "


_PAM_AUTH_FAILURE_TAIL = (  # pam_unix: "... tty=%s ruser=%s rhost=%s %s%s" with " user=%s" last (pam_sss: one space)
    r"logname=(?P<logname>\S*) uid=(?P<uid>\d*) euid=\d* tty=(?P<tty>\S*) ruser=(?P<ruser>\S*) rhost=(?P<source_ip>\S*)"
    r"(?: +user=(?P<user>.*?))?\s*$"
)
_SUDO_TAIL = (
    r"TTY=(?P<tty>[^ ;]*) ; PWD=(?P<pwd>.*?) ; USER=(?P<target_user>[^ ;]+)"
    r"(?: ; (?!COMMAND=)[A-Z_]+=[^;]*)* ; COMMAND=(?P<command>.*?)\s*$"
)
_OPENED_BY = r" by (?P<user>[^\s(]*)(?:\(uid=(?P<uid>\d+)\))?"
_DROPBEAR_PEER = r"\[?(?P<source_ip>[^\s\[\]]+?)\]?:(?P<source_port>\d+)\s*$"  # "192.0.2.1:5678", "[2001:db8::1]:5678"


def _su_rules(name: str, outcome: Outcome, pattern: str) -> tuple[Rule, Rule]:
    """su to root is privilege use (``{name}_root``); to anyone else an authentication as that user (``name``).

    ``{target}`` (and ``{target__x}`` for a second alternative) in ``pattern`` stands for the target user.
    """

    def target(user: str) -> dict[str, str]:
        return {"target": f"(?P<target_user>{user})", "target__log": f"(?P<target_user__log>{user})"}

    return (
        _rule(f"{name}_root", SU, Action.PRIVILEGE_USE, outcome, pattern.format(**target("root"))),
        _rule(name, SU, Action.AUTHENTICATION, outcome, pattern.format(**target(r"[^\s)':]+"))),
    )


S, F, U = Outcome.SUCCESS, Outcome.FAILURE, Outcome.UNKNOWN  # short names keep the table one rule per line or two

# fmt: off
RULES: tuple[Rule, ...] = (
    # --- OpenSSH: auth_log() ------------------------------------------------------------------------------------
    _rule("ssh_accepted", SSHD, Action.LOGON, S, _ssh_auth_log("Accepted")),
    _rule("ssh_failed", SSHD, Action.LOGON, F, _ssh_auth_log("Failed")),
    _rule("ssh_partial", SSHD, Action.AUTHENTICATION, S, _ssh_auth_log("Partial")),  # one of AuthenticationMethods
    _rule("ssh_postponed", SSHD, Action.AUTHENTICATION, U, _ssh_auth_log("Postponed")),
    # the same messages with client text after the address (a rule may have variants: same name, action, outcome)
    _rule("ssh_accepted", SSHD, Action.LOGON, S, _ssh_auth_log_client_info("Accepted")),
    _rule("ssh_failed", SSHD, Action.LOGON, F, _ssh_auth_log_client_info("Failed")),
    _rule("ssh_partial", SSHD, Action.AUTHENTICATION, S, _ssh_auth_log_client_info("Partial")),
    _rule("ssh_postponed", SSHD, Action.AUTHENTICATION, U, _ssh_auth_log_client_info("Postponed")),
    _rule("ssh_accepted_ambiguous_peer", SSHD, Action.LOGON, S, _ssh_auth_log_ambiguous("Accepted"),
          peer_ambiguous=True),
    _rule("ssh_failed_ambiguous_peer", SSHD, Action.LOGON, F, _ssh_auth_log_ambiguous("Failed"), peer_ambiguous=True),
    # --- OpenSSH: other messages about one attempt ----------------------------------------------------------------
    _rule("ssh_invalid_user", SSHD, Action.LOGON, F,  # 3.x-4.x "Illegal user", 7.x+ with the port
          r"^(?:Invalid|Illegal) user (?P<user>.*?) from (?P<source_ip>\S+)(?: port (?P<source_port>\d+))?" + _PREAUTH,
          invalid_user=True),
    _rule("ssh_invalid_user_request", SSHD, Action.LOGON, F,  # 5.x-7.x echo of "Invalid user" (no address)
          r"^input_userauth_request: (?:invalid|illegal) user (?P<user>.*?)" + _PREAUTH,
          invalid_user=True, echo_of="ssh_invalid_user"),
    _rule("ssh_user_not_allowed", SSHD, Action.LOGON, F,  # the account exists: pw_name has no spaces
          r"^User (?P<user>\S+) (?:from (?P<source_ip>\S+) )?not allowed because (?P<reason>.+?)\s*$"),
    _rule("ssh_root_refused", SSHD, Action.LOGON, F,  # PermitRootLogin no
          r"^ROOT LOGIN REFUSED FROM (?P<source_ip>\S+?)(?: port (?P<source_port>\d+))?" + _PREAUTH, user="root"),
    _rule("ssh_max_auth_attempts", SSHD, Action.LOGON, F,
          r"^maximum authentication attempts exceeded " + _SSH_USER + r"(?P<user>.*?) " + _SSH_PEER
          + r"(?: ssh[12])?" + _PREAUTH),
    _rule("ssh_too_many_failures", SSHD, Action.LOGON, F,  # 5.x-7.x without the address, 8.x+ with it
          r"^Disconnecting(?:: Too many authentication failures(?: " + _SSH_USER + r"(?P<user>.*?))?"
          r"| (?P<user_state>authenticating|invalid) user (?P<user__peer>.*?) (?P<source_ip>\S+) "
          r"port (?P<source_port>\d+): Too many authentication failures)" + _PREAUTH),
    _rule("ssh_pam_failure", SSHD, Action.AUTHENTICATION, F,  # "via" (macOS) names the local address
          r"^PAM: (?P<reason>[^:]+?) for (?:(?P<flag_invalid_user>illegal user |invalid user ))?(?P<user>.*?) "
          r"from (?P<source_ip>\S+)(?: via (?P<local_address>\S+))?\s*$"),
    _rule("ssh_auth_aborted", SSHD, Action.LOGON, F,  # the client gave up (or was cut off) while authenticating
          r"^(?:Connection (?:closed|reset)|Disconnected) (?:by|from) (?P<user_state>authenticating|invalid) user "
          r"(?P<user>.*?) (?P<source_ip>\S+) port (?P<source_port>\d+)" + _PREAUTH),
    _rule("ssh_disconnected_user", SSHD, Action.LOGOFF, S,
          r"^Disconnected from user (?P<user>.*?) (?P<source_ip>\S+) port (?P<source_port>\d+)\s*$"),
    _rule("ssh_client_gave_up", SSHD, Action.LOGON, F,  # 14: no more auth methods; 13: cancelled; JSch "Auth fail"
          r"^Received disconnect from (?P<source_ip>\S+)(?: port (?P<source_port>\d+):|:\s)\s?"
          r"(?P<disconnect_code>1[34](?=: )|\d+(?=: .*\bAuth (?:fail|cancel))): (?P<reason>.*?)" + _PREAUTH),
    # --- OpenSSH: connections ---------------------------------------------------------------------------------------
    _rule("ssh_connection_closed", SSHD, Action.NETWORK, U,
          r"^(?:Connection (?:closed|reset) by|Disconnected from) (?P<source_ip>[^\s\[]+)"
          r"(?: port (?P<source_port>\d+))?" + _PREAUTH),
    _rule("ssh_received_disconnect", SSHD, Action.NETWORK, U,  # the reason is the client's text
          r"^Received disconnect from (?P<source_ip>\S+)(?: port (?P<source_port>\d+):|:\s)\s?"
          r"(?P<disconnect_code>\d+): (?P<reason>.*?)" + _PREAUTH),
    _rule("ssh_connection_from", SSHD, Action.NETWORK, U,
          r"^Connection from (?P<source_ip>\S+) port (?P<source_port>\d+)(?: on (?P<local_address>\S+) port "
          r"(?P<local_port>\d+))?"),
    _rule("ssh_no_identification", SSHD, Action.NETWORK, F,
          r"^Did not receive identification string from (?P<source_ip>\S+?)(?: port (?P<source_port>\d+))?"
          + _PREAUTH),
    _rule("ssh_bad_banner", SSHD, Action.NETWORK, F,  # the version string is the client's: the address is last
          r"^(?:Bad protocol version identification '(?P<client_version>.*)' from (?P<source_ip>\S+?)"
          r"(?: port (?P<source_port>\d+))?" + _PREAUTH
          + r"|banner exchange: Connection from (?P<source_ip__banner>\S+) port (?P<source_port__banner>\d+): "
          r"(?P<reason>invalid format|could not read protocol version|[^:]*timeout[^:]*)"
          r"|Protocol major versions differ for (?P<source_ip__major>\S+?)(?: port (?P<source_port__major>\d+))?: )"),
    _rule("ssh_unable_to_negotiate", SSHD, Action.NETWORK, F,
          r"^Unable to negotiate with (?P<source_ip>\S+) port (?P<source_port>\d+): (?P<reason>no matching [^.]+)"),
    _rule("ssh_login_timeout", SSHD, Action.NETWORK, F,  # LoginGraceTime expired
          r"^Timeout before authentication for (?P<source_ip>\S+?)(?: port (?P<source_port>\d+))?\s*$"),
    _rule("ssh_connection_dropped", SSHD, Action.NETWORK, F,  # MaxStartups (8.x), PerSourcePenalties (9.8+)
          r"^drop connection #\d+ from \[(?P<source_ip>[^\]\s]+)\]:(?P<source_port>\d+) on "
          r"\[(?P<local_address>[^\]\s]+)\]:(?P<local_port>\d+) (?P<reason>.*?)\s*$"),
    _rule("ssh_possible_break_in", SSHD, Action.NETWORK, U,  # 7.x dropped the "- POSSIBLE BREAK-IN" suffix
          r"^(?:reverse mapping checking getaddrinfo for (?P<source_host>\S+) \[(?P<source_ip>[^\]]+)\] failed"
          r"|Address (?P<address>\S+) maps to (?P<mapped_host>\S+), but this does not map back to the address)",
          alert="possible_break_in"),
    _rule("ssh_listening", SSHD, Action.SERVICE, S,
          r"^Server listening on (?P<listen_address>\S+) port (?P<listen_port>\d+)"),
    _rule("ssh_terminating", SSHD, Action.SERVICE, S, r"^Received signal (?P<signal>\d+); terminating"),
    # --- Dropbear (svr-auth.c, svr-authpasswd.c, svr-authpubkey.c, svr-session.c) ----------------------------------
    _rule("dropbear_password_succeeded", DROPBEAR, Action.LOGON, S,
          r"^Password auth succeeded for '(?P<user>.*)' from " + _DROPBEAR_PEER, auth_method="password"),
    _rule("dropbear_pubkey_succeeded", DROPBEAR, Action.LOGON, S,
          r"^Pubkey auth succeeded for '(?P<user>.*)' with (?P<key>.*) from " + _DROPBEAR_PEER,
          auth_method="publickey"),
    _rule("dropbear_bad_password", DROPBEAR, Action.LOGON, F,
          r"^Bad password attempt for '(?P<user>.*)' from " + _DROPBEAR_PEER, auth_method="password"),
    _rule("dropbear_bad_pubkey", DROPBEAR, Action.LOGON, F,
          r"^Pubkey auth bad signature for '(?P<user>.*)' with (?P<key>.*) from " + _DROPBEAR_PEER,
          auth_method="publickey"),
    _rule("dropbear_invalid_user", DROPBEAR, Action.LOGON, F,  # older releases do not name the user
          r"^Login attempt for nonexistent user(?: '(?P<user>.*)')? from " + _DROPBEAR_PEER, invalid_user=True),
    _rule("dropbear_disallowed", DROPBEAR, Action.LOGON, F,  # -w, -g, locked account, bad shell
          r"^(?P<reason>root login rejected|User '(?P<user__d>.*)' (?:has (?:invalid|blank password)|is locked)"
          r"[^']*|Login attempt with disallowed shell[^']*)"),
    _rule("dropbear_exit_after_failures", DROPBEAR, Action.LOGON, F,  # the address (2014.63+) precedes the user
          r"^Exit before auth(?: from <" + _DROPBEAR_PEER[:-4] + r">)?:? \(user '(?P<user>.*?)', "
          r"(?P<failures>[1-9]\d*) fails?\): (?P<reason>.*)"),
    _rule("dropbear_exit_before_auth", DROPBEAR, Action.NETWORK, U,
          r"^Exit before auth(?: from <" + _DROPBEAR_PEER[:-4] + r">)?: (?:\(user '(?P<user>.*?)', 0 fails\): )?"
          r"(?P<reason>.*)"),
    _rule("dropbear_exit", DROPBEAR, Action.LOGOFF, S,
          r"^Exit \((?P<user>[^)]*)\)(?: from <" + _DROPBEAR_PEER[:-4] + r">)?: (?P<reason>.*)"),
    _rule("dropbear_connection", DROPBEAR, Action.NETWORK, U, r"^Child connection from " + _DROPBEAR_PEER),
    # --- TCP wrappers (libwrap refuse(), in any daemon) and xinetd -------------------------------------------------
    _rule("tcp_wrappers_refused", ANY, Action.NETWORK, F,
          r"^refused connect from (?:(?P<ident_user>[^@\s]+)@)?(?:(?P<source_host>[^\s(]+) \((?P<source_ip>[^\s)]+)\)"
          r"|(?P<source_ip__only>\S+))\s*$"),
    _rule("xinetd_refused", XINETD, Action.NETWORK, F,
          r"^FAIL: (?P<service>\S+) (?P<reason>\S+) from=(?P<source_ip>\S+)\s*$"),
    # --- su: to root is privilege use, to anyone else a session as that user --------------------------------
    _rule("su_session_opened_root", SU, Action.PRIVILEGE_USE, S,
          r"^session opened for user (?P<target_user>root)(?:\(uid=0\))?" + _OPENED_BY),
    _rule("su_session_opened", SU, Action.SESSION_START, S,
          r"^session opened for user (?P<target_user>[^\s(]+)(?:\(uid=\d+\))?" + _OPENED_BY),
    _rule("su_session_closed", SU, Action.SESSION_END, S,
          r"^session closed for user (?P<target_user>\S+)"),
    *_su_rules("su_failed", F, r"^FAILED SU \(to {target}\) (?P<user>\S+) on (?P<tty>\S+)"),  # util-linux
    *_su_rules("su_succeeded", S, r"^\(to {target}\) (?P<user>\S+) on (?P<tty>\S+)\s*$"),  # util-linux
    *_su_rules("su_failed_solaris", F, r"^'su {target}' failed for (?P<user>\S+) on (?P<tty>\S+)"),  # RFC 3164 5.4
    *_su_rules("su_succeeded_solaris", S, r"^'su {target}' succeeded for (?P<user>\S+) on (?P<tty>\S+)"),
    *_su_rules("su_failed_bsd", F, r"^BAD SU (?P<user>\S+) to {target}(?: on (?P<tty>\S+))?\s*$"),  # BSD, macOS
    *_su_rules("su_succeeded_bsd", S, r"^(?P<user>[^\s(]\S*) to {target}(?: on (?P<tty>\S+))?\s*$"),
    *_su_rules("su_failed_shadow", F, r"^(?:FAILED su for {target} by (?P<user>\S+)"  # shadow-utils su and sulog
                                      r"|- (?P<tty>\S+) (?P<user__log>[^\s:]+):{target__log}\s*$)"),
    *_su_rules("su_succeeded_shadow", S, r"^(?:Successful su for {target} by (?P<user>\S+)"
                                         r"|\+ (?P<tty>\S+) (?P<user__log>[^\s:]+):{target__log}\s*$)"),
    _rule("su_pam_failure", SU, Action.AUTHENTICATION, F,  # util-linux su, when PAM says no
          r"^pam_authenticate: (?P<reason>.+?)\s*$"),
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
    _rule("login_failed", LOGIN, Action.LOGON, F,  # shadow-utils and util-linux; the host comes before the user
          r"^(?:FAILED LOGIN (?:\(?(?P<attempts>\d+)\)?|SESSION)|TOO MANY LOGIN TRIES \((?P<attempts__max>\d+)\))"
          r" (?:on|FROM) '?(?P<tty>[^' ]+)'?(?: FROM '?(?P<source_ip>[^' ]+)'?)? FOR '?(?P<user>.*?)'?, "
          r"(?P<reason>[^,]*?)\s*$"),
    _rule("login_failed_solaris", LOGIN, Action.LOGON, F,
          r"^(?:Login failure|REPEATED LOGIN FAILURES) (?:on|ON) (?P<tty>\S+)(?: (?:from|FROM) (?P<source_ip>[^\s,]*))?"
          r", (?P<user>.*?)\s*$"),
    _rule("login_root", LOGIN | {"--"}, Action.LOGON, S,  # old login(1) wrote it under the tag "-- root[pid]"
          r"^(?:\S+: )?ROOT LOGIN +(?:ON|on) '?(?P<tty>[^' ]+)'?(?: FROM '?(?P<source_ip>[^' ]+)'?)?", user="root"),
    _rule("login_success", LOGIN, Action.LOGON, S,
          r"^LOGIN ON '?(?P<tty>[^' ]+)'? BY '?(?P<user>[^' ]+)'?(?: FROM '?(?P<source_ip>[^' ]+))?"),
    _rule("cron_command", CRON, Action.COMMAND, S, r"^\((?P<user>[^)]+)\) CMD \((?P<command>.*)\)\s*$"),
    _rule("kerberos_login_failed", KERBEROS_LOGIN, Action.AUTHENTICATION, F, r"^Kerberos authentication failed"),
    _rule("r_services_illegal_port", R_SERVICES, Action.NETWORK, F,  # the client port is not a privileged one
          r"^Connection from (?P<source_ip>\S+) on illegal port"),
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
    _rule("pam_switch_user_failure", SU | SUDO, Action.AUTHENTICATION, F,  # the caller is ruser=, user= the target
          r"^authentication failure; logname=(?P<logname>\S*) uid=(?P<uid>\d*) euid=\d* tty=(?P<tty>\S*) "
          r"ruser=(?P<user>\S+) rhost=(?P<source_ip>\S*) +user=(?P<target_user>.*?)\s*$"),
    _rule("pam_auth_failure", ANY, Action.AUTHENTICATION, F,
          r"^authentication failure; " + _PAM_AUTH_FAILURE_TAIL),
    _rule("pam_more_auth_failures", ANY, Action.AUTHENTICATION, F,
          r"^(?:PAM )?(?P<failures>[0-9]+) more authentication failures?; " + _PAM_AUTH_FAILURE_TAIL),
    _rule("pam_auth_failure_ambiguous_peer", ANY, Action.AUTHENTICATION, F,  # a ruser= with spaces: rhost unknown
          r"^(?:PAM )?(?:[0-9]+ more )?authentication failures?; ", peer_ambiguous=True),
    _rule("pam_user_unknown", ANY, Action.AUTHENTICATION, F,  # pam_unix, before its "authentication failure"
          r"^check pass; user unknown\s*$", reason="user_unknown", echo_of="pam_auth_failure"),
    _rule("pam_no_password", ANY, Action.AUTHENTICATION, F,  # pam_unix: the conversation gave no password
          r"^(?:auth could not identify password for|bad username) \[(?P<user>.*)\]\s*$"),
    _rule("pam_account_expired", ANY, Action.AUTHENTICATION, F,  # pam_unix account phase
          r"^account (?P<user>.*) has expired \((?P<reason>account expired|failed to change password)\)\s*$"),
    _rule("pam_account_locked", ANY, Action.AUTHENTICATION, F,  # pam_faillock, pam_tally2 / pam_tally
          r"^(?:Consecutive login failures for user (?P<user>.*) account temporarily locked"
          r"|user (?P<user__tally>.*) \((?P<uid>\d+)\) (?:tally (?P<tally>\d+), deny (?P<deny>\d+)"
          r"|has time limit \[(?P<seconds_left>\d+)s left\] since last failure\.))\s*$", reason="locked"),
    _rule("pam_sss_failure", ANY, Action.AUTHENTICATION, F,  # pam_sss logs only the errors
          r"^received for user (?P<user>.*): (?P<pam_status>\d+) \((?P<reason>[^()]*)\)\s*$"),
    _rule("pam_ldap_failure", ANY, Action.AUTHENTICATION, F,  # nss-pam-ldapd "%s; user=%s", PADL pam_ldap bind
          r"^(?:(?P<reason>Authentication failure|User not known to the underlying authentication module"
          r"|Permission denied|User account has expired|Authentication token is no longer valid; new one required"
          r"|Authentication service cannot retrieve authentication info); user=(?P<user>.*?)"
          r"|pam_ldap: error trying to bind as user \"(?P<user__padl>.*)\" \((?P<reason__padl>[^()]*)\)"
          r"|error trying to bind as user \"(?P<user__bind>.*)\" \((?P<reason__bind>[^()]*)\))\s*$"),
    _rule("pam_access_denied", ANY, Action.AUTHENTICATION, F,  # pam_access: "from" is a host, an address or a tty
          r"^access denied for user `(?P<user>.*)' from `(?:(?P<tty>(?:/dev/)?(?:tty|pts|console)[^']*|:\d[^']*)"
          r"|(?P<source_ip>[^']*))'\s*$"),
    _rule("pam_requirement_not_met", ANY, Action.AUTHENTICATION, F,  # pam_succeed_if
          r"^requirement \"(?P<requirement>.*)\" not met by user \"(?P<user>.*)\"\s*$"),
    _rule("pam_listfile_refused", ANY, Action.AUTHENTICATION, F,
          r"^Refused user (?P<user>.*) for service (?P<service>\S+)\s*$"),
    _rule("pam_securetty_refused", ANY, Action.AUTHENTICATION, F,  # pam_securetty guards root only
          r"^access denied: tty '(?P<tty>[^']*)' is not secure !?\s*$", user="root"),
    _rule("pam_session_opened", ANY, Action.SESSION_START, S,
          r"^session opened for user (?P<user>[^\s(]+)(?:\(uid=(?P<uid>\d+)\))? by "),
    _rule("pam_session_closed", ANY, Action.SESSION_END, S, r"^session closed for user (?P<user>\S+)"),
    _rule("pam_password_changed", ANY, Action.ACCOUNT_CHANGE, S,
          r"^password changed for (?P<target_user>\S+)", change="password_changed"),
)
# fmt: on
