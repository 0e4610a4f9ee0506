"""The declared access rule of every route. ``tests/test_routes.py`` discovers the routes by
itself and fails for any route missing here, so a new endpoint cannot ship without a rule.

``allowed``: the personas who may use the route; every other persona must be refused (403/404).
``anonymous``: what a visitor without login gets: ``login`` (redirect to the login page),
``401`` (API: JSON 401) or ``public`` (served).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ALL = frozenset({"compliance_officer", "risk_owner", "internal_auditor", "external_auditor", "isms_admin", "outsider"})
NOBODY: frozenset[str] = frozenset()
ADMIN = frozenset({"isms_admin"})
AUDIT_TRAIL = frozenset({"compliance_officer", "isms_admin"})
USER_READERS = frozenset({"compliance_officer", "internal_auditor", "isms_admin"})
SOA_READERS = frozenset({"compliance_officer", "risk_owner", "internal_auditor", "isms_admin"})
SOA_EDITORS = frozenset({"compliance_officer", "isms_admin"})
PUBLISHERS = frozenset({"compliance_officer"})
REQUESTER = frozenset({"compliance_officer"})  # reports are private to whoever requested them


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str]
    anonymous: str = "login"
    method: str = "GET"
    kwargs: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ends_session: bool = False  # logout: allowed, and then redirected to the login page


def _outsider_pk(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["personas"]["outsider"].pk}


def _first_audit_seq(world: dict[str, Any]) -> dict[str, Any]:
    return {"seq": world["audit_entry"].seq}


def _edition(world: dict[str, Any]) -> dict[str, Any]:
    return {"edition": "2022"}


def _soa_entry(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["soa_entry"].pk}


def _clause_entry(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["clause_entry"].pk}


def _csv_export(world: dict[str, Any]) -> dict[str, Any]:
    return {"edition": "2022", "fmt": "csv"}


def _control(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["soa_entry"].control_id}


def _version(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["soa_version"].pk}


def _report(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["report"].pk}


RULES: dict[str, Rule] = {
    # platform pages
    "dashboard": Rule(ALL),
    "login": Rule(ALL, anonymous="public"),
    "logout": Rule(ALL, method="POST", ends_session=True),
    "health": Rule(ALL, anonymous="public"),
    "audit_trail": Rule(AUDIT_TRAIL),
    "audit_trail_export": Rule(AUDIT_TRAIL),
    "users": Rule(USER_READERS),
    "user_create": Rule(ADMIN),
    "user_update": Rule(ADMIN, kwargs=_outsider_pk),
    "user_unlock": Rule(ADMIN, method="POST", kwargs=_outsider_pk),
    "report_status": Rule(REQUESTER, kwargs=_report),
    "report_download": Rule(REQUESTER, kwargs=_report),
    # controls and SoA
    "controls:catalogue": Rule(SOA_READERS),
    "controls:soa_default": Rule(SOA_READERS),
    "controls:soa": Rule(SOA_READERS, kwargs=_edition),
    "controls:soa_entry_row": Rule(SOA_READERS, kwargs=_soa_entry),
    "controls:soa_entry_edit": Rule(SOA_EDITORS, kwargs=_soa_entry),
    "controls:soa_confirm_review": Rule(SOA_EDITORS, method="POST", kwargs=_soa_entry),
    "controls:clause_entry_row": Rule(SOA_READERS, kwargs=_clause_entry),
    "controls:clause_entry_edit": Rule(SOA_EDITORS, kwargs=_clause_entry),
    "controls:soa_versions": Rule(SOA_READERS, kwargs=_edition),
    "controls:soa_publish": Rule(PUBLISHERS, method="POST", kwargs=_edition),
    "controls:soa_diff": Rule(SOA_READERS, kwargs=_edition),
    "controls:soa_export": Rule(SOA_READERS, kwargs=_csv_export),
    "controls:transition": Rule(SOA_EDITORS),
    # API
    "api-root": Rule(ALL, anonymous="401"),
    "api-me": Rule(ALL, anonymous="401"),
    "api-token": Rule(ALL, anonymous="public", method="POST"),
    "api-schema": Rule(ALL, anonymous="401"),
    "api-docs": Rule(ALL),
    "auditentry-list": Rule(AUDIT_TRAIL, anonymous="401"),
    "auditentry-detail": Rule(AUDIT_TRAIL, anonymous="401", kwargs=_first_audit_seq),
    # lists are narrowed (not refused) for users without the role-wide permission
    "user-list": Rule(ALL, anonymous="401"),
    "user-detail": Rule(USER_READERS, anonymous="401", kwargs=_outsider_pk),
    "control-list": Rule(SOA_READERS, anonymous="401"),
    "control-detail": Rule(SOA_READERS, anonymous="401", kwargs=_control),
    "soaentry-list": Rule(SOA_READERS, anonymous="401"),
    "soaentry-detail": Rule(SOA_READERS, anonymous="401", kwargs=_soa_entry),
    "soaversion-list": Rule(SOA_READERS, anonymous="401"),
    "soaversion-detail": Rule(SOA_READERS, anonymous="401", kwargs=_version),
    "soaversion-publish": Rule(PUBLISHERS, anonymous="401", method="POST"),
    "soaversion-diff": Rule(SOA_READERS, anonymous="401"),
}
