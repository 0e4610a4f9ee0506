"""Which events are evidence for which controls: declarative rules, data rather than code.

A rule matches events by exact field values (``match``: field -> allowed values) or, for supplier
activity, by the source's configured supplier accounts. The same rule is used three ways: to
count evidence per control while ingesting (``matches``), to filter the events explorer by control
(``as_q``), and to show on the SoA which controls have machine evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from evidence.parsers.base import Action


@dataclass(frozen=True)
class MappingRule:
    key: str
    label: str
    controls_2013: tuple[str, ...]
    controls_2022: tuple[str, ...]
    match: dict[str, frozenset[str]] = field(default_factory=dict)
    supplier_accounts: bool = False  # the event's user is one of the source's supplier accounts

    def matches(self, event: dict[str, Any], supplier_accounts: frozenset[str] = frozenset()) -> bool:
        if self.supplier_accounts and event.get("user") not in supplier_accounts:
            return False
        if self.supplier_accounts and not supplier_accounts:
            return False
        return all(event.get(name) in values for name, values in self.match.items())

    def as_q(self, sources: Iterable[Any] = ()) -> Q:
        """The rule as a query on events (supplier rules need the sources and their accounts)."""
        query = Q(**{f"{name}__in": sorted(values) for name, values in self.match.items()})
        if self.supplier_accounts:
            per_source = Q(pk__in=[])
            for source in sources:
                accounts = source.supplier_account_list
                if accounts:
                    per_source |= Q(source=source, user__in=accounts)
            query &= per_source
        return query

    def controls(self, edition: str) -> tuple[str, ...]:
        return self.controls_2022 if edition == "2022" else self.controls_2013


def _any(*values: str) -> frozenset[str]:
    return frozenset(values)


RULES: tuple[MappingRule, ...] = (
    MappingRule(
        "logon",
        "Logons and logoffs",
        ("A.9.4.2", "A.12.4.1"),
        ("8.5", "8.15"),
        {"action": _any(Action.LOGON, Action.LOGOFF, Action.AUTHENTICATION)},
    ),
    MappingRule(
        "privileged_activity",
        "Privileged activity (sudo, su, special privileges)",
        ("A.12.4.3", "A.9.2.3"),
        ("8.15", "8.2"),
        {"action": _any(Action.PRIVILEGE_USE)},
    ),
    MappingRule(
        "session_recording",
        "Privileged session recordings",
        ("A.12.4.3", "A.9.2.3"),
        ("8.15", "8.2"),
        {"program": _any("session-recording")},
    ),
    MappingRule("supplier_activity", "Activity of supplier accounts", ("A.15.2.1",), ("5.22",), supplier_accounts=True),
    MappingRule(
        "log_cleared", "Log cleared or recording gap", ("A.12.4.2",), ("8.15",), {"action": _any(Action.LOG_CLEARED)}
    ),
    MappingRule(
        "clock_change", "System clock changes", ("A.12.4.4",), ("8.17",), {"action": _any(Action.CLOCK_CHANGE)}
    ),
    MappingRule(
        "account_change",
        "User and group account changes",
        ("A.9.2.1", "A.9.2.2"),
        ("5.16", "5.18"),
        {"action": _any(Action.ACCOUNT_CHANGE)},
    ),
    MappingRule("command", "Commands run on servers", ("A.12.4.1",), ("8.15",), {"action": _any(Action.COMMAND)}),
)
RULES_BY_KEY = {rule.key: rule for rule in RULES}


def rules_for_control(edition: str, ref: str) -> list[MappingRule]:
    return [rule for rule in RULES if ref in rule.controls(edition)]


def controls_of_rules(keys: Iterable[str]) -> set[tuple[str, str]]:
    """``(edition, control)`` of every control the rules map to, each once."""
    return {
        (edition, ref) for key in keys for edition in ("2013", "2022") for ref in RULES_BY_KEY[key].controls(edition)
    }


def controls_by_rule(edition: str) -> dict[str, tuple[str, ...]]:
    return {rule.key: rule.controls(edition) for rule in RULES}


class RuleMatcher:
    """A fast ``fields -> [rule keys]`` for one source: rules indexed by the value they match.
    ``fields`` names the only fields it reads, so callers pass just those."""

    def __init__(self, supplier_accounts: frozenset[str]) -> None:
        self.by_value: dict[tuple[str, str], list[str]] = {}
        self.plain: list[MappingRule] = []
        for rule in RULES:
            if rule.supplier_accounts:
                continue
            if len(rule.match) == 1:
                ((name, values),) = rule.match.items()
                for value in values:
                    self.by_value.setdefault((name, value), []).append(rule.key)
            else:
                self.plain.append(rule)
        self.supplier_accounts = supplier_accounts
        self.supplier = [rule.key for rule in RULES if rule.supplier_accounts]
        self.indexed = sorted({name for name, _ in self.by_value})
        read = {*self.indexed, *(name for rule in self.plain for name in rule.match)}
        self.fields = tuple(sorted(read | ({"user"} if supplier_accounts else set())))

    def __call__(self, fields: dict[str, Any]) -> list[str]:
        found: list[str] = []
        for name in self.indexed:
            found.extend(self.by_value.get((name, fields.get(name)), ()))
        found.extend(rule.key for rule in self.plain if rule.matches(fields, self.supplier_accounts))
        if self.supplier_accounts and fields.get("user") in self.supplier_accounts:
            found.extend(self.supplier)
        return found
