"""What an authentication-related syslog message means, independent of how it was transported.

OpenSSH, PAM, sudo, su, shadow-utils, systemd-logind, login, cron, the logging daemons and the time
daemons write free-text messages; the same text reaches us through RFC 3164 files, RFC 5424 frames or
the journal. ``classify(program, message)`` maps one message to an ISMS ``Action`` and ``Outcome``
plus the people, address, command and session it names, or ``None`` when it is not a message we know
(the caller then keeps the event as ``Action.OTHER``).

The knowledge is a table, not code (``evidence.parsers.auth_rules``): each ``Rule`` names the
programs it applies to, one compiled regular expression, the action and outcome, and constants.
The regex's named groups are the field mapping: a group named after a ``Classification`` field
(``user``, ``target_user``, ``source_ip``, ``command``, ``session_id``) fills that field, any other
named group lands in ``extra``. Rules are tried in table order and the first match wins, so a
specific rule comes before a general one.

For speed, the rules that apply to a program are compiled into one regular expression (``RuleSet``), so
classifying a message costs one regex call whatever the size of the table.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import re._constants as re_constants
import re._parser as re_parser
from dataclasses import dataclass, field, fields
from typing import Any

from evidence.parsers.auth_rules import RULES, Rule
from evidence.parsers.base import REPEATED, Action, Event, Outcome


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


_REPEATED = re.compile(
    r"(?:last )?message repeated (?P<count>[0-9]{1,10}) times?(?:: \[ ?(?P<message>.*?)\s*\])?\s*$", re.S
)
_SOLARIS_MSGID = re.compile(r"\[ID (?P<msgid>[0-9]{1,10}) [a-z0-9]{1,12}\.[a-z]{1,8}\] ")
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
    flag_groups: tuple[tuple[int, str], ...]  # a ``flag_x`` group sets extra x=True when it matched text
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
        for number, name in self.flag_groups:
            if match[number]:
                extra[name] = True
        for name, value in self.constant_fields:
            setattr(event, name, value)
        for number, name in self.field_groups:
            value = match[number]
            if not value:
                continue
            value = value.strip()
            if name == "source_ip" and not is_ip_address(value):
                extra.setdefault("source_host", value)  # PAM's rhost and a few sshd messages may name a host
            else:
                setattr(event, name, value)


@dataclass(frozen=True, slots=True)
class _Alternation:
    """Rules compiled into a single anchored alternation: one regex call per message.

    Each rule's pattern becomes the alternative ``...(?P<r{i}>)`` with its groups renamed ``g{i}_{name}``: that
    empty group, closing the alternative, is the match's ``lastindex`` and tells which rule matched.
    """

    pattern: re.Pattern[str]
    resolutions: dict[int, _Resolution]  # by the number of the group closing the rule's alternative

    @classmethod
    def compile(cls, rules: tuple[Rule, ...]) -> _Alternation:
        alternatives = []
        for index, rule in enumerate(rules):
            text = rule.pattern.pattern
            alternatives.append(_GROUP_NAME.sub(rf"(?P<g{index}_\1>", text[1:]) + f"(?P<r{index}>)")
        pattern = re.compile("|".join(alternatives) or "(?!)")  # no rules: a pattern that never matches
        resolutions = {
            pattern.groupindex[f"r{index}"]: _resolution(index, rule, pattern) for index, rule in enumerate(rules)
        }
        return cls(pattern, resolutions)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The rules of one program, one regex call per message whatever the size of the table.

    The regex engine tries an alternation's branches one after the other, so a message's first character picks
    the rules that can start with it (``first_characters``) and only those are tried, compiled together on first
    use (a few dozen alternations at most, whatever the programs seen).
    """

    rules: tuple[Rule, ...]
    starts: tuple[frozenset[str] | None, ...]  # each rule's possible first characters; None: any
    by_first: dict[str, _Alternation] = field(default_factory=dict)

    @classmethod
    def compile(cls, rules: tuple[Rule, ...]) -> RuleSet:
        for rule in rules:
            if not rule.pattern.pattern.startswith("^") or "(?P=" in rule.pattern.pattern:
                raise ValueError(f"rule {rule.name}: patterns are anchored with ^ and use no back-references")
        return cls(rules, tuple(first_characters(rule.pattern) for rule in rules))

    def find(self, text: str) -> tuple[_Resolution, re.Match[str]] | None:
        """The first rule matching ``text`` (as its resolution) and the match, or ``None``."""
        first = text[:1]
        alternation = self.by_first.get(first)
        if alternation is None:
            chosen = tuple(
                rule for rule, start in zip(self.rules, self.starts, strict=True) if not start or first in start
            )
            alternation = self.by_first[first] = _Alternation.compile(chosen)
        match = alternation.pattern.match(text)
        return None if match is None else (alternation.resolutions[match.lastindex or 0], match)


def first_characters(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """The characters a match of ``pattern`` (anchored with ^) can start with, or None if it could be any."""
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        return _first_of(re_parser.parse(pattern.pattern[1:], pattern.flags).data)
    except Exception:  # an internal module: if its shape changes, every rule is simply tried  # noqa: BLE001
        return None


def _first_of(items: Any) -> frozenset[str] | None:
    """The first characters of a parsed sequence; an optional leading item adds its own to the rest's."""
    if not items:
        return None
    op, argument = items[0]
    if op in (re_constants.MAX_REPEAT, re_constants.MIN_REPEAT) and argument[0] == 0:
        optional, rest = _first_of(argument[2].data), _first_of(items[1:])
        return None if optional is None or rest is None else optional | rest
    if op is re_constants.LITERAL:
        return frozenset(chr(argument))
    if op is re_constants.IN:
        characters: set[str] = set()
        for kind, value in argument:
            if kind is re_constants.LITERAL:
                characters.add(chr(value))
            elif kind is re_constants.RANGE and value[1] - value[0] < 128:
                characters.update(map(chr, range(value[0], value[1] + 1)))
            else:
                return None
        return frozenset(characters)
    if op is re_constants.SUBPATTERN:  # (group, add_flags, del_flags, pattern)
        return None if argument[1] & re.IGNORECASE else _first_of(argument[-1].data)
    if op is re_constants.BRANCH:
        starts = [_first_of(branch.data) for branch in argument[1]]
        return None if any(start is None for start in starts) else frozenset().union(*starts)  # type: ignore[arg-type]
    if op in (re_constants.MAX_REPEAT, re_constants.MIN_REPEAT) and argument[0] >= 1:
        return _first_of(argument[2].data)
    return None


def _resolution(index: int, rule: Rule, pattern: re.Pattern[str]) -> _Resolution:
    """A group ``user__x`` fills ``user`` too (one field matched in two alternatives); ``flag_x`` sets extra x=True."""
    groups = [(pattern.groupindex[f"g{index}_{name}"], name.split("__")[0]) for name in rule.pattern.groupindex]
    fields_ = [(number, name) for number, name in groups if name in _FIELD_NAMES]
    flags = [(number, name.removeprefix("flag_")) for number, name in groups if name.startswith("flag_")]
    extras = [(number, name) for number, name in groups if name not in _FIELD_NAMES and not name.startswith("flag_")]
    return _Resolution(
        rule=rule,
        field_groups=tuple(fields_),
        extra_groups=tuple(extras),
        flag_groups=tuple(flags),
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
    elif event.message[:1] in _REPEAT_STARTS:  # a reduced line no rule knows still stands for N lines
        repeated = _REPEATED.match(event.message.lstrip())
        if repeated is not None:
            event.extra[REPEATED] = int(repeated["count"])
    return event


_REPEAT_STARTS = frozenset("ml \t")


def _find(program: str, message: str) -> tuple[_Resolution, re.Match[str], dict[str, Any]] | None:
    """The rule for ``message``, its match, and what the message's wrapping said.

    Before the rules see it, the text loses its indentation, Solaris' message ID "[ID 800047 auth.info] " (kept as
    ``msgid``), rsyslog's "message repeated N times: [ text ]" wrapper (kept as ``repeated``), the "error: " or
    "fatal: " that sshd puts before its error-level messages and the PAM module prefix "pam_unix(sshd:auth): "
    (kept as ``pam_module``, ``pam_service``, ``pam_type``).
    """
    text, context = message.lstrip(), {}
    first = text[:1]
    if first in _WRAPPER_STARTS:  # most messages have no wrapping: one set lookup
        if first != "p":
            unwrapped = _unwrap(text, context)
            if unwrapped is None:
                return None
            text = unwrapped
        if text.startswith("pam_"):
            pam = _PAM_PREFIX.match(text)
            if pam is not None:
                text = text[pam.end() :]
                context.update(pam.groupdict())
    found = rules_for(program).find(text)
    return None if found is None else (*found, context)


_WRAPPER_STARTS = frozenset("[mlefp")


def _unwrap(text: str, context: dict[str, Any]) -> str | None:
    """``text`` without a Solaris message ID, a repeat wrapper and sshd's level (``context`` records them)."""
    if text.startswith("[ID "):  # Solaris syslogd: "[ID 800047 auth.info] "
        vendor = _SOLARIS_MSGID.match(text)
        if vendor is not None:
            text, context["msgid"] = text[vendor.end() :], vendor["msgid"]
    if text.startswith(("message repeated", "last message repeated")):
        repeated = _REPEATED.match(text)
        if repeated is None or not repeated["message"]:
            return None
        text, context[REPEATED] = repeated["message"], int(repeated["count"])
    if text.startswith(("error: ", "fatal: ")):
        text = text[7:]
    return text


@functools.lru_cache(maxsize=8192)  # the same peers recur line after line
def is_ip_address(text: str) -> bool:
    """A literal IPv4 or IPv6 address (v4-mapped and scoped ones too), not a host name."""
    if _IPV4.fullmatch(text):
        return True
    if ":" not in text:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True
