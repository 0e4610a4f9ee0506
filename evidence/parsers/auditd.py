"""Raw Linux audit logs (``/var/log/audit/audit.log``), one event per audit serial.

The kernel and the user-space tools write one *line* per audit *record*; the records of one event
(``SYSCALL`` + ``EXECVE`` + ``CWD`` + ``PATH`` ... + ``EOE``) share the id ``msg=audit(TIME:SERIAL)``
and may be interleaved with, or written out of order relative to, the records of other events.

``records`` joins the lines of one event into one ``Record`` with a bounded look-back window:

* an event is *open* while new lines with its id may still come; it is closed by its ``EOE``
  record, when it has not been continued for ``window`` lines, when it grows past
  ``max_event_bytes``, or at the end of the input;
* records are yielded in the order of their first line (so offsets never go backwards); lines
  that are not audit records are yielded on their own, in place;
* an ``EOE`` line that comes after its event was closed (window or caps) is a record of its own
  that gives no event (like a blank line);
* the queue of not-yet-yielded lines is capped (``max_pending_lines``/``max_pending_bytes``): when
  it overflows, the oldest event is closed early, so memory stays bounded whatever the input.

A joined ``Record`` has the offset and line number of its *first* line (the raw reference points
there), ``data`` = the lines (without CR/LF) joined by ``\\n`` and ``length`` = the sum of the
lines' lengths including their line ends. The lines need not be contiguous, but every line belongs
to exactly one record, so over a file the lengths still sum to the file size.

``parse`` decodes the key=value fields: quoted values literally, hex-encoded "untrusted strings"
(``proctitle``, ``exe``, ``cwd``, ``cmd``, ``acct``, ``EXECVE`` arguments, split ``aN[i]``
arguments...), the inner ``msg='...'`` of user-space records, the ``log_format=ENRICHED`` part
after the 0x1D separator (``AUID="alice"``), an optional ``node=`` prefix and a syslog prefix (as
written by ``audisp-syslog``/``audispd``). A hex value that does not decode to UTF-8 is kept as
written.
"""

from __future__ import annotations

import ipaddress
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, ClassVar

from evidence.parsers.base import (
    Action,
    Event,
    Outcome,
    OversizedRecord,
    ParseContext,
    ParseError,
    Record,
    check_record,
    decode_text,
    iter_lines,
)

# --- record splitting -----------------------------------------------------------------------

_HEADER = r"(?:node=(?P<node>\S+) )?type=(?P<type>\S+) (?:msg=)?audit\((?P<sec>\d+)\.(?P<frac>\d+):(?P<serial>\d+)\):?"
_HEADER_RE = re.compile(_HEADER)
_HEADER_BYTES_RE = re.compile(_HEADER.encode())


def event_id(line: bytes) -> bytes | None:
    """``time:serial`` of an audit record line (None for other lines)."""
    match = _HEADER_BYTES_RE.search(line)
    return match.group("sec") + b"." + match.group("frac") + b":" + match.group("serial") if match else None


DEFAULT_WINDOW = 256  # lines an open event waits for a continuation
MAX_EVENT_BYTES = 1024 * 1024
MAX_PENDING_LINES = 16 * 1024
MAX_PENDING_BYTES = 8 * 1024 * 1024


@dataclass(slots=True)
class _Pending:
    """Lines waiting to be yielded: an audit event (``key`` set) or a lone non-audit line."""

    key: tuple[bytes | None, ...] | None
    lines: list[Record] = field(default_factory=list)
    last_seen: int = 0
    size: int = 0
    closed: bool = False

    def to_record(self) -> Record:
        if len(self.lines) == 1:
            return self.lines[0]
        first = self.lines[0]
        data = b"\n".join(line.data for line in self.lines)
        return Record(first.offset, data, first.line, sum(line.length for line in self.lines))


class _EventJoiner:
    """Groups lines into events by audit id, in bounded memory (see the module docstring)."""

    def __init__(self, window: int, max_event_bytes: int, max_pending_lines: int, max_pending_bytes: int) -> None:
        self.window, self.max_event_bytes = window, max_event_bytes
        self.max_pending_lines, self.max_pending_bytes = max_pending_lines, max_pending_bytes
        self._queue: deque[_Pending] = deque()
        self._open: dict[tuple[bytes | None, ...], _Pending] = {}
        self._seen = self._pending_lines = self._pending_bytes = 0

    def push(self, line: Record) -> list[Record]:
        """Add one line; return the records that became ready."""
        self._seen += 1
        key, is_eoe = _line_key(line)
        if key is None:
            item = _Pending(None, closed=True)
            self._queue.append(item)
        else:
            item = self._open.get(key) or self._start(key)
        item.lines.append(line)
        item.last_seen, item.size = self._seen, item.size + len(line.data)
        self._pending_lines += 1
        self._pending_bytes += len(line.data)
        if is_eoe or item.size >= self.max_event_bytes:
            self._close(item)
        return self._ready(final=False)

    def finish(self) -> list[Record]:
        return self._ready(final=True)

    def _start(self, key: tuple[bytes | None, ...]) -> _Pending:
        item = _Pending(key)
        self._open[key] = item
        self._queue.append(item)
        return item

    def _close(self, item: _Pending) -> None:
        if not item.closed and item.key is not None:
            item.closed = True
            del self._open[item.key]

    def _head_is_due(self, head: _Pending) -> bool:
        return (
            self._seen - head.last_seen >= self.window
            or self._pending_lines > self.max_pending_lines
            or self._pending_bytes > self.max_pending_bytes
        )

    def _ready(self, final: bool) -> list[Record]:
        ready: list[Record] = []
        while self._queue:
            head = self._queue[0]
            if not head.closed:
                if not (final or self._head_is_due(head)):
                    break
                self._close(head)
            self._queue.popleft()
            self._pending_lines -= len(head.lines)
            self._pending_bytes -= head.size
            ready.append(head.to_record())
        return ready


def _line_key(line: Record) -> tuple[tuple[bytes | None, ...] | None, bool]:
    """The event id of an audit line (node, time, serial) and whether it is an EOE record."""
    if isinstance(line, OversizedRecord):
        return None, False
    match = _HEADER_BYTES_RE.search(line.data)
    if match is None:
        return None, False
    node, kind, sec, frac, serial = match.groups()
    return (node, sec, frac, serial), kind == b"EOE"


# --- field decoding ---------------------------------------------------------------------------

_FIELD_RE = re.compile(r"""([\w\-\[\]]+)=("[^"]*"|'[^']*'|\S*)""")
_ENRICHED_RE = re.compile(r"""([A-Z][A-Z0-9_\-]*)=("[^"]*"|\{[^}]*\}|\S*)""")
_HEX_RE = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_ARG_RE = re.compile(r"a(\d+)(?:\[(\d+)\])?")
_SYSLOG_HOST_RE = re.compile(r"^(?:<\d+>)?(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) (\S+) ")
_ENRICHED_SEPARATOR = "\x1d"

# Fields auditd writes hex-encoded when the value contains a space, quote or control character.
_HEX_FIELDS = frozenset(
    {"acct", "cmd", "comm", "cwd", "data", "dir", "exe", "file", "grp", "key", "name", "new-chardev", "new-disk"}
    | {"new-fs", "new-net", "new-rng", "new_group", "ocomm", "old-chardev", "old-disk", "old-fs", "old-net"}
    | {"old-rng", "path", "proctitle", "root_dir", "sw", "vm", "watch"}
)
_UNSET = frozenset({"4294967295", "-1", "unset", "?", ""})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _unhex(value: str) -> str | None:
    if not _HEX_RE.fullmatch(value):
        return None
    try:
        return bytes.fromhex(value).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _decode(key: str, raw: str, execve: bool = False) -> str:
    """A value as written -> its text: quotes removed, hex "untrusted strings" decoded."""
    if raw[:1] == '"':
        return raw[1:-1]
    if key in _HEX_FIELDS or (execve and key[:1] == "a" and key[1:].isdigit()):
        decoded = _unhex(raw)
        if decoded is not None:
            return decoded
    if raw[-1:] in (",", ")") and "(" not in raw:
        return raw.rstrip(",)")  # inside "(hostname=?, addr=?, terminal=cron res=success)"
    return raw


@dataclass(slots=True)
class _AuditLine:
    """One audit record (one line). ``raw`` keeps values as written; ``get`` decodes on access."""

    type: str
    body: str
    raw: dict[str, str]
    enriched: dict[str, str]
    text: str = ""  # prose of a user-space msg='...' ("PAM: session open", "changing system time")

    def get(self, key: str) -> str:
        value = self.raw.get(key)
        return "" if value is None else _decode(key, value, self.type == "EXECVE")

    def decoded(self) -> dict[str, str]:
        execve = self.type == "EXECVE"
        return {key: _decode(key, value, execve) for key, value in self.raw.items()}


@dataclass(slots=True)
class _Header:
    node: str
    time: datetime
    audit_id: str
    serial: int
    prefix: str


def _parse_line(line: str) -> tuple[re.Match[str], _AuditLine]:
    match = _HEADER_RE.search(line)
    if match is None:
        raise ParseError("not_audit_record", line[:80])
    body, _, enriched = line[match.end() :].partition(_ENRICHED_SEPARATOR)
    raw = dict(_FIELD_RE.findall(body))
    text = _merge_inner_message(raw)
    enriched_fields = {key: value.strip('"') for key, value in _ENRICHED_RE.findall(enriched)} if enriched else {}
    return match, _AuditLine(match["type"], body.strip(), raw, enriched_fields, text)


def _merge_inner_message(raw: dict[str, str]) -> str:
    """Merge the fields of a user-space ``msg='...'`` into ``raw`` (outer ones win); return its prose."""
    message = raw.get("msg", "")
    if len(message) < 2 or message[0] != "'" or message[-1] != "'":
        return ""
    del raw["msg"]
    inner = message[1:-1]
    for key, value in _FIELD_RE.findall(inner):
        raw.setdefault(key, value)
    first = _FIELD_RE.search(inner)
    return (inner[: first.start()] if first else inner).strip(" :")


def _header(match: re.Match[str]) -> _Header:
    sec, frac, serial = match["sec"], match["frac"], match["serial"]
    return _Header(
        node=match["node"] or "",
        time=_EPOCH + timedelta(seconds=int(sec), microseconds=int(frac[:6].ljust(6, "0"))),
        audit_id=f"{sec}.{frac}:{serial}",
        serial=int(serial),
        prefix=match.string[: match.start()].strip(),
    )


# --- interpretation ---------------------------------------------------------------------------

A = Action
_TYPE_ACTIONS: dict[str, Action] = {
    "USER_LOGIN": A.LOGON,
    "USER_LOGOUT": A.LOGOFF,
    "LOGIN": A.SESSION_START,  # the login uid (auid) and session of a new login are set
    "USER_START": A.SESSION_START,
    "USER_END": A.SESSION_END,
    "USER_AUTH": A.AUTHENTICATION,
    "USER_ACCT": A.AUTHENTICATION,
    "USER_ERR": A.AUTHENTICATION,
    "CRED_ACQ": A.AUTHENTICATION,
    "CRED_REFR": A.AUTHENTICATION,
    "CRED_DISP": A.AUTHENTICATION,
    "USER_CMD": A.PRIVILEGE_USE,
    **dict.fromkeys(
        ("ADD_USER", "DEL_USER", "ADD_GROUP", "DEL_GROUP", "USER_MGMT", "GRP_MGMT", "USER_CHAUTHTOK"),
        A.ACCOUNT_CHANGE,
    ),
    **dict.fromkeys(("GRP_CHAUTHTOK", "ACCT_LOCK", "ACCT_UNLOCK", "ROLE_ASSIGN", "ROLE_REMOVE"), A.ACCOUNT_CHANGE),
    **dict.fromkeys(
        ("CONFIG_CHANGE", "DAEMON_CONFIG", "USYS_CONFIG", "NETFILTER_CFG", "MAC_POLICY_LOAD", "MAC_CONFIG_CHANGE"),
        A.CONFIG_CHANGE,
    ),
    **dict.fromkeys(
        ("MAC_STATUS", "FEATURE_CHANGE", "USER_MAC_POLICY_LOAD", "USER_MAC_CONFIG_CHANGE"), A.CONFIG_CHANGE
    ),
    **dict.fromkeys(
        ("DAEMON_START", "DAEMON_END", "DAEMON_ABORT", "DAEMON_RESUME", "DAEMON_ROTATE", "SERVICE_START"),
        A.SERVICE,
    ),
    **dict.fromkeys(("SERVICE_STOP", "SYSTEM_BOOT", "SYSTEM_SHUTDOWN", "SYSTEM_RUNLEVEL"), A.SERVICE),
    "TIME_ADJNTPVAL": A.CLOCK_CHANGE,
    "TIME_INJOFFSET": A.CLOCK_CHANGE,
}
# (record type, words of its message text) -> a more precise action
_TEXT_ACTIONS: dict[tuple[str, str], Action] = {("USYS_CONFIG", "changing system time"): A.CLOCK_CHANGE}

# syscall numbers of the calls that matter here, per audit arch (x86_64, i386, aarch64); the
# ENRICHED SYSCALL= name wins when present
_SYSCALL_NAMES: dict[str, dict[str, str]] = {
    "c000003e": {"59": "execve", "322": "execveat", "159": "adjtimex", "164": "settimeofday"}
    | {"227": "clock_settime", "305": "clock_adjtime", "42": "connect", "43": "accept", "49": "bind", "50": "listen"}
    | {"288": "accept4"},
    "40000003": {"11": "execve", "358": "execveat", "124": "adjtimex", "79": "settimeofday", "25": "stime"}
    | {"264": "clock_settime", "343": "clock_adjtime"},
    "c00000b7": {"221": "execve", "281": "execveat", "171": "adjtimex", "170": "settimeofday"}
    | {"112": "clock_settime", "266": "clock_adjtime", "203": "connect", "202": "accept", "200": "bind"}
    | {"201": "listen", "242": "accept4"},
}
_SYSCALL_ACTIONS: dict[str, Action] = {
    **dict.fromkeys(("execve", "execveat"), A.COMMAND),
    **dict.fromkeys(("adjtimex", "settimeofday", "clock_settime", "clock_adjtime", "stime"), A.CLOCK_CHANGE),
    **dict.fromkeys(("connect", "accept", "accept4", "bind", "listen"), A.NETWORK),
}
_RESULTS: dict[str, Outcome] = {
    **dict.fromkeys(("success", "yes", "1"), Outcome.SUCCESS),
    **dict.fromkeys(("failed", "failure", "fail", "no", "0"), Outcome.FAILURE),
}
_ARCH_NAMES = {"c000003e": "x86_64", "40000003": "i386", "c00000b7": "aarch64", "40000028": "arm"}
_EXTRA_FIELDS = ("op", "terminal", "tty", "exit", "ppid", "euid", "uid", "gid", "acct", "id", "hostname", "addr", "res")
_IP_LIKE_RE = re.compile(r"[0-9A-Fa-f:.]+")
_ACCOUNT_IS_USER = frozenset({A.LOGON, A.LOGOFF, A.AUTHENTICATION, A.SESSION_START, A.SESSION_END})


_EVENT_FIELDS = frozenset(_EXTRA_FIELDS) | {"auid", "ses", "pid", "comm", "exe", "success", "syscall", "arch", "key"}
_EVENT_FIELDS |= {"cmd", "cwd"}


@dataclass(slots=True)
class _AuditEvent:
    """The records of one event. ``values`` are the decoded fields the mapping uses, from the primary
    record, else from the SYSCALL record."""

    header: _Header
    lines: list[_AuditLine]
    primary: _AuditLine
    values: dict[str, str]
    enriched: dict[str, str]
    by_type: dict[str, list[_AuditLine]]

    def get(self, key: str) -> str:
        return self.values.get(key, "")

    def of_type(self, kind: str) -> list[_AuditLine]:
        return self.by_type.get(kind, [])


def _audit_event(parsed: list[tuple[re.Match[str], _AuditLine]]) -> _AuditEvent:
    lines = [line for _, line in parsed]
    by_type: dict[str, list[_AuditLine]] = {}
    for line in lines:
        by_type.setdefault(line.type, []).append(line)
    syscall = by_type.get("SYSCALL", [None])[0]
    primary = next((line for line in lines if line.type in _TYPE_ACTIONS), None) or syscall or lines[0]
    raw, enriched = primary.raw, primary.enriched
    if syscall is not None and syscall is not primary:
        raw, enriched = syscall.raw | raw, syscall.enriched | enriched
    values = {name: _decode(name, raw[name]) for name in _EVENT_FIELDS if name in raw}
    return _AuditEvent(_header(parsed[0][0]), lines, primary, values, enriched, by_type)


def _syscall_name(event: _AuditEvent) -> str:
    if "SYSCALL" in event.enriched:
        return event.enriched["SYSCALL"]
    number = event.get("syscall")
    return _SYSCALL_NAMES.get(event.get("arch"), {}).get(number, number)


def _action(event: _AuditEvent) -> Action:
    primary = event.primary
    if primary.type in _TYPE_ACTIONS:
        text = primary.text.lower()
        for (kind, words), action in _TEXT_ACTIONS.items():
            if kind == primary.type and words in text:
                return action
        return _TYPE_ACTIONS[primary.type]
    if primary.type == "SYSCALL":
        return _SYSCALL_ACTIONS.get(_syscall_name(event), A.OTHER)
    return A.OTHER


def _outcome(event: _AuditEvent) -> Outcome:
    result = event.primary.get("res") or event.get("success") or event.get("res")
    return _RESULTS.get(result.lower(), Outcome.UNKNOWN)


def _known(*values: str | None) -> str:
    return next((value for value in values if value and value not in _UNSET), "")


def _user(event: _AuditEvent, action: Action) -> str:
    """The login user (auid); before a login has set it, the account a login/authentication is for."""
    user = _known(event.enriched.get("AUID"), event.get("auid"))
    if not user and action in _ACCOUNT_IS_USER:
        return _known(event.get("acct"))
    return user


def _target_user(event: _AuditEvent) -> str:
    """The account acted upon: ``acct``/``id`` of user-space records; for a system call, the uid it ran as
    (the uid of a user-space record is the reporting daemon's, so it is not used)."""
    account = _known(event.get("acct"), event.enriched.get("ID"), event.get("id"))
    if account or event.primary.type != "SYSCALL":
        return account
    return _known(event.enriched.get("UID"), event.get("uid"))


def _ip(value: str) -> str:
    if not _IP_LIKE_RE.fullmatch(value):
        return ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""


def _argv(lines: Iterable[_AuditLine]) -> list[str]:
    """EXECVE arguments in order; split arguments (``a1_len``, ``a1[0]``, ``a1[1]``...) are joined."""
    whole: dict[int, str] = {}
    pieces: dict[int, list[tuple[int, str]]] = {}
    for line in lines:
        for key in line.raw:
            match = _ARG_RE.fullmatch(key) if key[:1] == "a" else None
            if match and match[2] is None:
                whole[int(match[1])] = line.get(key)
            elif match:
                pieces.setdefault(int(match[1]), []).append((int(match[2]), line.raw[key]))
    for index, parts in pieces.items():
        joined = "".join(value for _, value in sorted(parts))
        whole[index] = _unhex(joined) or joined
    return [whole[index] for index in sorted(whole)]


def _proctitle(event: _AuditEvent) -> list[str]:
    titles = event.of_type("PROCTITLE")
    if not titles:
        return []
    return [arg for arg in titles[0].get("proctitle").split("\x00") if arg]


def _command(event: _AuditEvent, action: Action, argv: list[str], proctitle: list[str]) -> str:
    if event.primary.type == "USER_CMD":
        return event.get("cmd")
    if action is A.COMMAND:
        return " ".join(argv or proctitle) or event.get("exe")
    return ""


def _sockaddr(hex_value: str) -> dict[str, Any]:
    """Family, address and port of a SOCKADDR ``saddr`` (either byte order for the family)."""
    try:
        raw = bytes.fromhex(hex_value)
    except ValueError:
        return {}
    family = int.from_bytes(raw[:2], "little")
    if family not in (1, 2, 10):
        family = int.from_bytes(raw[:2], "big")
    port = int.from_bytes(raw[2:4], "big")
    if family == 2 and len(raw) >= 8:
        return {"family": "inet", "addr": str(ipaddress.IPv4Address(raw[4:8])), "port": port}
    if family == 10 and len(raw) >= 24:
        return {"family": "inet6", "addr": str(ipaddress.IPv6Address(raw[8:24])), "port": port}
    if family == 1:
        return {"family": "unix", "path": raw[2:].split(b"\x00", 1)[0].decode("utf-8", "backslashreplace")}
    return {"family": str(family)}


def _rule_keys(value: str) -> list[str]:
    return [key for key in value.split("\x01") if key and key != "(null)"]


def _host(header: _Header, context: ParseContext) -> str:
    if header.node:
        return header.node
    match = _SYSLOG_HOST_RE.match(header.prefix)
    return match[1] if match else context.default_host


def _extra(event: _AuditEvent, argv: list[str], proctitle: list[str]) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "audit_id": event.header.audit_id,
        "serial": event.header.serial,
        "record_types": [line.type for line in event.lines],
    }
    if "syscall" in event.values:
        arch = event.get("arch")
        extra |= {"syscall": _syscall_name(event), "arch": event.enriched.get("ARCH") or _ARCH_NAMES.get(arch, arch)}
    extra |= {name: value for name in _EXTRA_FIELDS if (value := event.values.get(name, "?")) not in ("", "?")}
    optional: dict[str, Any] = {
        "key": _rule_keys(event.get("key")),
        "exe": event.get("exe"),
        "cwd": next((line.get("cwd") for line in event.of_type("CWD")), event.get("cwd")),
        "argv": argv,
        "proctitle": proctitle,
        "paths": [line.get("name") for line in event.of_type("PATH") if "name" in line.raw],
        "sockaddr": [_sockaddr(line.raw.get("saddr", "")) for line in event.of_type("SOCKADDR")],
        "anomalies": [{"type": line.type, **line.decoded()} for line in event.lines if line.type.startswith("ANOM_")],
        "enriched": dict(event.enriched),
        "syslog_prefix": event.header.prefix,
        "text": event.primary.text,
    }
    extra |= {name: value for name, value in optional.items() if value}
    if event.primary.type != "SYSCALL":
        extra["fields"] = event.primary.decoded()
    return extra


def _pid(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _to_event(event: _AuditEvent, context: ParseContext) -> Event:
    action = _action(event)
    argv = _argv(event.of_type("EXECVE"))
    proctitle = _proctitle(event)
    return Event(
        time=event.header.time,
        host=_host(event.header, context),
        program=event.get("comm") or event.get("exe").rsplit("/", 1)[-1],
        pid=_pid(event.get("pid")),
        user=_user(event, action),
        target_user=_target_user(event),
        source_ip=_ip(event.get("addr")) or _ip(event.get("hostname")),
        action=action,
        outcome=_outcome(event),
        session_id=_known(event.get("ses")),
        command=_command(event, action, argv, proctitle),
        message=f"{event.primary.type} {event.primary.body}"[:1024],
        extra=_extra(event, argv, proctitle),
    )


class AuditdParser:
    """``--format auditd``: raw audit.log lines, joined per event."""

    name: ClassVar[str] = "auditd"
    description: ClassVar[str] = "Linux audit log (audit.log), records of one event joined by msg=audit(time:serial)"

    def __init__(
        self,
        window: int = DEFAULT_WINDOW,
        max_event_bytes: int = MAX_EVENT_BYTES,
        max_pending_lines: int = MAX_PENDING_LINES,
        max_pending_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        self.window, self.max_event_bytes = window, max_event_bytes
        self.max_pending_lines, self.max_pending_bytes = max_pending_lines, max_pending_bytes

    def records(self, stream: BinaryIO, start_offset: int = 0) -> Iterator[Record]:
        joiner = _EventJoiner(self.window, self.max_event_bytes, self.max_pending_lines, self.max_pending_bytes)
        for line in iter_lines(stream, start_offset):
            yield from joiner.push(line)
        yield from joiner.finish()

    def parse(self, record: Record, context: ParseContext) -> list[Event]:
        check_record(record)
        lines = [line for line in decode_text(record.data).split("\n") if line.strip()]
        if not lines:
            return []
        parsed = [_parse_line(line) for line in lines]
        if all(line.type == "EOE" for _, line in parsed):
            return []  # an end-of-event marker left over after its event was closed: nothing to report
        return [_to_event(_audit_event(parsed), context)]


PARSER = AuditdParser()
