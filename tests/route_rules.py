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
}
