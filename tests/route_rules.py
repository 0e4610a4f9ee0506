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
SOA_EDITORS = frozenset({"compliance_officer"})
PUBLISHERS = frozenset({"compliance_officer"})
REQUESTER = frozenset({"compliance_officer"})  # reports are private to whoever requested them
RISK_READERS = frozenset({"compliance_officer", "risk_owner", "internal_auditor", "isms_admin"})
RISK_MANAGERS = frozenset({"compliance_officer", "isms_admin"})
RISK_CHANGERS = frozenset({"compliance_officer", "isms_admin", "risk_owner"})  # the owner changes their own risk
OWNER = frozenset({"risk_owner"})
APPROVERS = frozenset({"isms_admin"})
EVIDENCE_READERS = frozenset({"compliance_officer", "internal_auditor", "isms_admin"})
UPLOADERS = frozenset({"compliance_officer", "isms_admin"})


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


def _risk(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["risk"].pk}


def _risk_action(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["risk"].pk, "action_pk": world["action"].pk}


def _acceptance(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["acceptance"].pk}


def _asset(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["asset"].pk}


def _register_xlsx(world: dict[str, Any]) -> dict[str, Any]:
    return {"what": "register", "fmt": "xlsx"}


def _import_assets(world: dict[str, Any]) -> dict[str, Any]:
    return {"what": "assets"}


def _risk_action_api(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["action"].pk}


def _methodology(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["risk"].methodology_id}


def _source(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["evidence_source"].pk}


def _job(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["evidence_job"].pk}


def _event(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["evidence_event"].pk}


def _recording(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["recording"].pk}


def _ingest(world: dict[str, Any]) -> dict[str, Any]:
    return {"source": world["evidence_source"].name}


RULES: dict[str, Rule] = {
    # platform pages
    "dashboard": Rule(ALL),
    "login": Rule(ALL, anonymous="public"),
    "login_verify": Rule(ALL, anonymous="public"),  # the code after the password; nothing pending: a link back
    "confirm_identity": Rule(ALL),
    "mfa": Rule(ALL),
    "mfa_totp_enrol": Rule(ALL),  # everyone may add a second factor (after confirming it's them)
    "mfa_totp_remove": Rule(ALL, method="POST", kwargs=_outsider_pk),  # only their own: see tests/ismsapp/test_mfa.py
    "mfa_recovery_codes": Rule(ALL, method="POST"),
    "mfa_passkey_remove": Rule(ALL, method="POST", kwargs=_outsider_pk),  # only their own: see test_passkeys.py
    # Passkey JSON endpoints: registration is refused (403) until the user has an authenticator
    # app and has just confirmed it's them; authentication only continues a login waiting for its
    # second factor (none here), so every persona is refused.
    "otp_webauthn:credential-registration-begin": Rule(NOBODY, method="POST"),
    "otp_webauthn:credential-registration-complete": Rule(NOBODY, method="POST"),
    "otp_webauthn:credential-authentication-begin": Rule(NOBODY, anonymous="public", method="POST"),
    "otp_webauthn:credential-authentication-complete": Rule(NOBODY, anonymous="public", method="POST"),
    "otp_webauthn:js-i18n-catalog": Rule(ALL, anonymous="public"),
    "logout": Rule(ALL, method="POST", ends_session=True),
    "health": Rule(ALL, anonymous="public"),
    "audit_trail": Rule(AUDIT_TRAIL),
    "audit_trail_export": Rule(AUDIT_TRAIL),
    "users": Rule(USER_READERS),
    "user_create": Rule(ADMIN),
    "user_update": Rule(ADMIN, kwargs=_outsider_pk),
    "user_unlock": Rule(ADMIN, method="POST", kwargs=_outsider_pk),
    "user_mfa_reset": Rule(ADMIN, method="POST", kwargs=_outsider_pk),
    "role_grant_approve": Rule(ADMIN, method="POST", kwargs=_outsider_pk),  # the second admin: see test_roles.py
    "role_grant_reject": Rule(ADMIN, method="POST", kwargs=_outsider_pk),
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
    # risks
    "risks:register": Rule(RISK_READERS),
    "risks:my_risks": Rule(OWNER),
    "risks:create": Rule(RISK_MANAGERS),
    "risks:detail": Rule(RISK_READERS, kwargs=_risk),
    "risks:edit": Rule(RISK_CHANGERS, kwargs=_risk),
    "risks:action_create": Rule(RISK_CHANGERS, kwargs=_risk),
    "risks:action_edit": Rule(RISK_CHANGERS, kwargs=_risk_action),
    "risks:accept": Rule(OWNER, kwargs=_risk),
    "risks:approve": Rule(APPROVERS, method="POST", kwargs=_acceptance),
    "risks:revoke": Rule(RISK_READERS, method="POST", kwargs=_acceptance),  # the service decides, see tests
    "risks:acceptance_pdf": Rule(RISK_READERS, method="POST", kwargs=_acceptance),
    "risks:export": Rule(RISK_READERS, kwargs=_register_xlsx),
    "risks:assets": Rule(RISK_READERS),
    "risks:asset_create": Rule(RISK_MANAGERS),
    "risks:asset_edit": Rule(RISK_MANAGERS, kwargs=_asset),
    "risks:import": Rule(RISK_MANAGERS, kwargs=_import_assets),
    "risks:methodology": Rule(RISK_READERS),
    # machine evidence
    "evidence:sources": Rule(EVIDENCE_READERS),
    "evidence:source_create": Rule(ADMIN, method="POST"),
    "evidence:source": Rule(EVIDENCE_READERS, kwargs=_source),
    "evidence:rotate_token": Rule(ADMIN, method="POST", kwargs=_source),
    "evidence:upload": Rule(UPLOADERS),
    "evidence:jobs": Rule(EVIDENCE_READERS),
    "evidence:job": Rule(EVIDENCE_READERS, kwargs=_job),
    "evidence:job_raw": Rule(EVIDENCE_READERS, kwargs=_job),
    "evidence:events": Rule(EVIDENCE_READERS),
    "evidence:events_export": Rule(EVIDENCE_READERS),
    "evidence:sessions": Rule(EVIDENCE_READERS),
    "evidence:session": Rule(EVIDENCE_READERS, kwargs=_recording),
    "evidence:session_playback": Rule(EVIDENCE_READERS, kwargs=_recording),
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
    "soaentry-confirm-review": Rule(SOA_EDITORS, anonymous="401", method="POST", kwargs=_soa_entry),
    "soaversion-list": Rule(SOA_READERS, anonymous="401"),
    "soaversion-detail": Rule(SOA_READERS, anonymous="401", kwargs=_version),
    "soaversion-publish": Rule(PUBLISHERS, anonymous="401", method="POST"),
    "soaversion-diff": Rule(SOA_READERS, anonymous="401"),
    "asset-list": Rule(RISK_READERS, anonymous="401"),
    "asset-detail": Rule(RISK_READERS, anonymous="401", kwargs=_asset),
    "risk-list": Rule(ALL, anonymous="401"),  # narrowed to the risks each user may see
    "risk-detail": Rule(RISK_READERS, anonymous="401", kwargs=_risk),
    "risk-accept": Rule(OWNER, anonymous="401", method="POST", kwargs=_risk),
    "treatmentaction-list": Rule(ALL, anonymous="401"),
    "treatmentaction-detail": Rule(RISK_READERS, anonymous="401", kwargs=_risk_action_api),
    "riskacceptance-list": Rule(ALL, anonymous="401"),
    "riskacceptance-detail": Rule(RISK_READERS, anonymous="401", kwargs=_acceptance),
    "riskacceptance-approve": Rule(APPROVERS, anonymous="401", method="POST", kwargs=_acceptance),
    "riskacceptance-revoke": Rule(RISK_READERS, anonymous="401", method="POST", kwargs=_acceptance),
    "riskmethodology-list": Rule(RISK_READERS, anonymous="401"),
    "riskmethodology-detail": Rule(RISK_READERS, anonymous="401", kwargs=_methodology),
    "evidencesource-list": Rule(EVIDENCE_READERS, anonymous="401"),
    "evidencesource-detail": Rule(EVIDENCE_READERS, anonymous="401", kwargs=_source),
    "ingestionjob-list": Rule(EVIDENCE_READERS, anonymous="401"),
    "ingestionjob-detail": Rule(EVIDENCE_READERS, anonymous="401", kwargs=_job),
    "event-list": Rule(EVIDENCE_READERS, anonymous="401"),
    "event-detail": Rule(EVIDENCE_READERS, anonymous="401", kwargs=_event),
    "sessionrecording-list": Rule(EVIDENCE_READERS, anonymous="401"),
    "sessionrecording-detail": Rule(EVIDENCE_READERS, anonymous="401", kwargs=_recording),
    # HTTP push authenticates with the source's token only: a user's session or token is not enough
    "evidence-ingest": Rule(NOBODY, anonymous="401", method="POST", kwargs=_ingest),
}
