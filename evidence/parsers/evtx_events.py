"""Windows event records (as pyevtx-rs renders them to JSON) to normalised events: which event IDs
of the Security, System and other channels are logons, logoffs, privilege use, account changes,
log clearing and clock changes, and which EventData fields give the user, host, source IP, session.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evidence.parsers.base import Action, Event, Outcome, ParseContext, ParseError

_AUDIT_SUCCESS, _AUDIT_FAILURE = 0x0020000000000000, 0x0010000000000000
_SUBJECT = ("SubjectUserName",)
_TARGET = ("TargetUserName",)
_NO_VALUE = frozenset({"", "-", "%%1793", "NULL SID"})
_IPV4_RE = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_SYSTEM_TIME_RE = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?(?:Z|[+-]00:?00)?")


@dataclass(frozen=True, slots=True)
class _Rule:
    """How one event ID maps to an ``Event``: EventData keys tried in order for each field."""

    action: Action
    title: str
    outcome: Outcome | None = None  # None: from Status when present, else from the audit keywords
    user: tuple[str, ...] = _SUBJECT
    domain: tuple[str, ...] = ("SubjectDomainName",)
    target: tuple[str, ...] = ()
    session: tuple[str, ...] = ("SubjectLogonId",)
    source_ip: tuple[str, ...] = ("IpAddress",)
    command: tuple[str, ...] = ()
    pid: tuple[str, ...] = ("ProcessId",)
    positional: tuple[str, ...] = ()  # names for unnamed <Data> strings (classic event sources)


def _logon(title: str, outcome: Outcome | None = None) -> _Rule:
    return _Rule(Action.LOGON, title, outcome, _TARGET, ("TargetDomainName",), session=("TargetLogonId",))


def _logoff(title: str) -> _Rule:
    return _Rule(Action.LOGOFF, title, Outcome.SUCCESS, _TARGET, ("TargetDomainName",), session=("TargetLogonId",))


def _account(title: str, target: tuple[str, ...] = _TARGET) -> _Rule:
    return _Rule(Action.ACCOUNT_CHANGE, title, target=target)


def _credential(title: str, outcome: Outcome | None = None) -> _Rule:
    return _Rule(Action.AUTHENTICATION, title, outcome, _TARGET, ("TargetDomainName",), session=())


_MEMBER = ("MemberName", "MemberSid")
_SECURITY_RULES: dict[int, _Rule] = {
    4624: _logon("An account was successfully logged on", Outcome.SUCCESS),
    4625: _logon("An account failed to log on", Outcome.FAILURE),
    4634: _logoff("An account was logged off"),
    4647: _logoff("User initiated logoff"),
    4648: _Rule(Action.AUTHENTICATION, "A logon was attempted using explicit credentials", target=_TARGET),
    4672: _Rule(Action.PRIVILEGE_USE, "Special privileges assigned to new logon"),
    4673: _Rule(Action.PRIVILEGE_USE, "A privileged service was called"),
    4674: _Rule(Action.PRIVILEGE_USE, "An operation was attempted on a privileged object"),
    4703: _Rule(Action.PRIVILEGE_USE, "A token right was adjusted", target=_TARGET),
    4688: _Rule(
        Action.COMMAND,
        "A new process has been created",
        command=("CommandLine", "NewProcessName"),
        pid=("NewProcessId",),
    ),
    4720: _account("A user account was created"),
    4722: _account("A user account was enabled"),
    4723: _account("An attempt was made to change an account's password"),
    4724: _account("An attempt was made to reset an account's password"),
    4725: _account("A user account was disabled"),
    4726: _account("A user account was deleted"),
    4738: _account("A user account was changed"),
    4740: _account("A user account was locked out"),
    4767: _account("A user account was unlocked"),
    4781: _account("The name of an account was changed", ("OldTargetUserName",)),
    4728: _account("A member was added to a security-enabled global group", _MEMBER),
    4729: _account("A member was removed from a security-enabled global group", _MEMBER),
    4732: _account("A member was added to a security-enabled local group", _MEMBER),
    4733: _account("A member was removed from a security-enabled local group", _MEMBER),
    4756: _account("A member was added to a security-enabled universal group", _MEMBER),
    4757: _account("A member was removed from a security-enabled universal group", _MEMBER),
    4731: _account("A security-enabled local group was created"),
    4735: _account("A security-enabled local group was changed"),
    1102: _Rule(Action.LOG_CLEARED, "The audit log was cleared", Outcome.SUCCESS),
    1100: _Rule(Action.SERVICE, "The event logging service has shut down", Outcome.SUCCESS),
    4608: _Rule(Action.SERVICE, "Windows is starting up", Outcome.SUCCESS),
    4609: _Rule(Action.SERVICE, "Windows is shutting down", Outcome.SUCCESS),
    4616: _Rule(Action.CLOCK_CHANGE, "The system time was changed"),
    4719: _Rule(Action.CONFIG_CHANGE, "System audit policy was changed"),
    4739: _Rule(Action.CONFIG_CHANGE, "Domain Policy was changed"),
    4907: _Rule(Action.CONFIG_CHANGE, "Auditing settings on object were changed"),
    4768: _credential("A Kerberos authentication ticket (TGT) was requested"),
    4769: _credential("A Kerberos service ticket was requested"),
    4771: _credential("Kerberos pre-authentication failed", Outcome.FAILURE),
    4776: _credential("The computer attempted to validate the credentials for an account"),
}
_RDP_CHANNEL = "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"
_RULES: dict[tuple[str, int], _Rule] = {
    **{("Security", event_id): rule for event_id, rule in _SECURITY_RULES.items()},
    ("System", 104): _Rule(Action.LOG_CLEARED, "The log file was cleared", Outcome.SUCCESS, session=()),
    ("System", 7045): _Rule(Action.SERVICE, "A service was installed in the system", Outcome.SUCCESS, ("AccountName",)),
    ("System", 7036): _Rule(Action.SERVICE, "A service entered a new state", Outcome.SUCCESS),
    ("System", 7040): _Rule(Action.CONFIG_CHANGE, "The start type of a service was changed", Outcome.SUCCESS),
    ("System", 1): _Rule(Action.CLOCK_CHANGE, "The system time has changed", Outcome.SUCCESS),
    (_RDP_CHANNEL, 1149): _Rule(
        Action.AUTHENTICATION,
        "Remote Desktop Services: User authentication succeeded",
        Outcome.SUCCESS,
        ("Param1",),
        ("Param2",),
        session=(),
        source_ip=("Param3",),
    ),
    ("Application", 18456): _Rule(
        Action.AUTHENTICATION,
        "SQL Server login failed",
        Outcome.FAILURE,
        ("UserName",),
        (),
        session=(),
        source_ip=("Client",),
        positional=("UserName", "Reason", "Client"),
    ),
}
# Only these providers own the event IDs above outside the Security log.
_PROVIDERS: dict[tuple[str, int], str] = {
    ("System", 104): "Microsoft-Windows-Eventlog",
    ("System", 7045): "Service Control Manager",
    ("System", 7036): "Service Control Manager",
    ("System", 7040): "Service Control Manager",
    ("System", 1): "Microsoft-Windows-Kernel-General",
    ("Application", 18456): "MSSQL",
}


def _text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("#text", "")
    if isinstance(value, list):
        return " ".join(_text(item) for item in value)
    return "" if value is None else str(value).strip()


def _attribute(node: Any, name: str) -> str:
    return _text(node.get("#attributes", {}).get(name)) if isinstance(node, dict) else ""


def _event_data(event: dict[str, Any], rule: _Rule | None) -> dict[str, Any]:
    """The named fields of <EventData> or of the single element of <UserData>."""
    data = event.get("EventData")
    if data is None:
        user_data = event.get("UserData") or {}
        data = next(iter(user_data.values()), None) if isinstance(user_data, dict) and len(user_data) == 1 else None
    if not isinstance(data, dict):
        return {}
    fields = {key: value for key, value in data.items() if key != "#attributes"}
    strings = fields.get("Data")
    if isinstance(strings, dict) and "#text" in strings:
        values = strings["#text"]
        fields["Data"] = values if isinstance(values, list) else [values]
        if rule and rule.positional:
            fields |= {name: _text(value) for name, value in zip(rule.positional, fields["Data"], strict=False)}
    return fields


def _first(data: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = _text(data.get(key))
        if value not in _NO_VALUE:
            return value
    return ""


def _ip(value: str) -> str:
    value = value.strip().removeprefix("::ffff:")
    if not value:
        return ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        found = _IPV4_RE.search(value)
        return found[0] if found else ""


def _int(value: str) -> int | None:
    try:
        return int(value, 16) if value.lower().startswith("0x") else int(value)
    except ValueError:
        return None


def _time(system: dict[str, Any]) -> datetime | None:
    value = _attribute(system.get("TimeCreated"), "SystemTime")
    match = _SYSTEM_TIME_RE.fullmatch(value)
    if match is None:
        return None
    micros = (match[3] or "0")[:6].ljust(6, "0")
    return datetime.fromisoformat(f"{match[1]}T{match[2]}.{micros}").replace(tzinfo=UTC)


def _outcome(rule: _Rule | None, data: dict[str, Any], keywords: str) -> Outcome:
    if rule is not None and rule.outcome is not None:
        return rule.outcome
    status = _int(_text(data.get("Status"))) if "Status" in data else None
    if status is not None:
        return Outcome.SUCCESS if status == 0 else Outcome.FAILURE
    flags = _int(keywords) or 0
    if flags & _AUDIT_FAILURE:
        return Outcome.FAILURE
    return Outcome.SUCCESS if flags & _AUDIT_SUCCESS else Outcome.UNKNOWN


def _event_id(system: dict[str, Any]) -> int:
    value = _int(_text(system.get("EventID")))
    if value is None:
        raise ParseError("bad_evtx_event", "no EventID")
    return value


def _rule(channel: str, provider: str, event_id: int) -> _Rule | None:
    rule = _RULES.get((channel, event_id))
    owner = _PROVIDERS.get((channel, event_id), "")
    return rule if rule is not None and provider.startswith(owner) else None


def map_event(document: dict[str, Any], context: ParseContext) -> Event:
    """An ``Event`` from pyevtx-rs's JSON rendering of one record (``{"Event": {"System": ...}}``)."""
    event = document.get("Event")
    if not isinstance(event, dict) or not isinstance(event.get("System"), dict):
        raise ParseError("bad_evtx_event", "no Event/System element")
    system = event["System"]
    event_id, channel = _event_id(system), _text(system.get("Channel"))
    provider = _attribute(system.get("Provider"), "Name")
    rule = _rule(channel, provider, event_id)
    data = _event_data(event, rule)
    fields = rule or _Rule(Action.OTHER, "", user=(), domain=(), session=(), source_ip=(), pid=())
    pid = _int(_first(data, fields.pid)) if fields.pid else None
    extra: dict[str, Any] = {
        "event_id": event_id,
        "channel": channel,
        "provider": provider,
        "computer": _text(system.get("Computer")),
        "event_record_id": _int(_text(system.get("EventRecordID"))),
        "level": _int(_text(system.get("Level"))),
        "keywords": _text(system.get("Keywords")),
        "security_user_id": _attribute(system.get("Security"), "UserID"),
        "data": data,
    }
    if domain := _first(data, fields.domain):
        extra["user_domain"] = domain
    return Event(
        time=_time(system),
        host=_text(system.get("Computer")) or context.default_host,
        program=provider,
        pid=pid if pid is not None else _int(_attribute(system.get("Execution"), "ProcessID")),
        user=_first(data, fields.user),
        target_user=_first(data, fields.target),
        source_ip=_ip(_first(data, fields.source_ip)),
        action=fields.action,
        outcome=_outcome(rule, data, extra["keywords"]),
        session_id=_first(data, fields.session),
        command=_first(data, fields.command),
        message=f"{event_id} {fields.title}".strip() if fields.title else f"{provider} event {event_id}",
        extra=extra,
    )
