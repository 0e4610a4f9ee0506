"""The declared access rule of every route. ``tests/test_routes.py`` discovers the routes by
itself and fails for any route missing here, so a new endpoint cannot ship without a rule.

``allowed``: the personas who may use the route; every other persona must be refused (403/404).
``anonymous``: what a visitor without login gets: ``login`` (redirect to the login page),
``401`` (API: JSON 401) or ``public`` (served).

Object-level cases: a route that takes an id declares ``foreign_kwargs``, the same route pointed
at a canary object that belongs to someone else, and ``object_scoped``, the allowed personas who
reach such objects only through per-object grants (a risk owner: their own risks). Those must get
404 on the canary (never 403: that would tell the id exists); the other allowed personas, whose
access is role-wide, must still reach it (so the 404 is the scoping, not a missing canary).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ALL = frozenset({"compliance_officer", "risk_owner", "internal_auditor", "external_auditor", "isms_admin", "outsider"})
NOBODY: frozenset[str] = frozenset()
ADMIN = frozenset({"isms_admin"})
AUDIT_TRAIL = frozenset({"compliance_officer", "internal_auditor", "isms_admin"})
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
TOKEN_OWNER_AND_ADMIN = frozenset({"outsider", "isms_admin"})  # the world's API token is the outsider's
AUDIT_READERS = frozenset({"compliance_officer", "internal_auditor", "isms_admin"})
AUDIT_PLANNERS = frozenset({"compliance_officer"})
AUDIT_MEMBERS = frozenset({"internal_auditor"})  # the lead auditor of the route audit
AUDIT_MANAGERS = frozenset({"compliance_officer", "internal_auditor"})  # officers, and the audit's lead
NC_FOLLOW_UP = frozenset({"compliance_officer", "internal_auditor"})
NC_READERS = frozenset({"compliance_officer", "internal_auditor", "isms_admin", "risk_owner"})  # risk: treated
ACTION_OWNER = frozenset({"risk_owner"})  # the route action's owner


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[str]
    anonymous: str = "login"
    method: str = "GET"
    kwargs: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ends_session: bool = False  # logout: allowed, and then redirected to the login page
    foreign_kwargs: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    object_scoped: frozenset[str] = frozenset()


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


# the canary: a risk of a second risk owner, with an action and an acceptance awaiting approval
def _foreign_risk(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["foreign_risk"].pk}


def _foreign_risk_action(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["foreign_risk"].pk, "action_pk": world["foreign_action"].pk}


def _foreign_action(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["foreign_action"].pk}


def _foreign_acceptance(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["foreign_acceptance"].pk}


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


def _api_token(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["api_token"].pk}


def _ingest(world: dict[str, Any]) -> dict[str, Any]:
    return {"source": world["evidence_source"].name}


# Personas whose access to some routes is per object, and those routes (by name prefix): every such
# route that takes an object's id must declare the persona ``object_scoped`` with a canary.
PER_OBJECT_ROUTES: dict[str, tuple[str, ...]] = {
    "risk_owner": ("risks:", "risk-", "treatmentaction-", "riskacceptance-"),
}
NOT_AN_OBJECT_ID = frozenset(
    {"risks:export", "risks:import", "audits:register_export"}
)  # their arguments name a format, not an object


def _programme(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["audit_programme"].pk}


def _audit_create(world: dict[str, Any]) -> dict[str, Any]:
    return {"programme_pk": world["audit_programme"].pk}


def _audit(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["audit"].pk}


def _register_csv(world: dict[str, Any]) -> dict[str, Any]:
    return {"fmt": "csv"}


def _calendar_ics(world: dict[str, Any]) -> dict[str, Any]:
    return {"secret": world["calendar_secret"]}


def _item(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["checklist_item"].pk}


def _nonconformity(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["nonconformity"].pk}


def _corrective_action(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["corrective_action"].pk}


def _verification(world: dict[str, Any]) -> dict[str, Any]:
    return {"pk": world["verification"].pk}


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
    "user_end_sessions": Rule(ADMIN, method="POST", kwargs=_outsider_pk),
    "account:index": Rule(ALL),
    "account:end_other_sessions": Rule(ALL, method="POST"),
    "account:end_all_sessions": Rule(ALL, method="POST", ends_session=True),
    "account:password_change": Rule(ALL, method="POST"),  # empty form: 400 naming the fields
    "account:token_create": Rule(ALL, method="POST", data={"name": "route token", "expires_in_days": 30}),
    "account:token_revoke": Rule(TOKEN_OWNER_AND_ADMIN, method="POST", kwargs=_api_token),
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
    "risks:detail": Rule(RISK_READERS, kwargs=_risk, foreign_kwargs=_foreign_risk, object_scoped=OWNER),
    # the owner changes the description of their risk and reports the progress of its actions
    "risks:edit": Rule(RISK_CHANGERS, kwargs=_risk, foreign_kwargs=_foreign_risk, object_scoped=OWNER),
    "risks:action_create": Rule(RISK_MANAGERS, kwargs=_risk, foreign_kwargs=_foreign_risk),
    "risks:action_edit": Rule(
        RISK_CHANGERS, kwargs=_risk_action, foreign_kwargs=_foreign_risk_action, object_scoped=OWNER
    ),
    "risks:accept": Rule(OWNER, kwargs=_risk, foreign_kwargs=_foreign_risk, object_scoped=OWNER),
    "risks:approve": Rule(APPROVERS, method="POST", kwargs=_acceptance, foreign_kwargs=_foreign_acceptance),
    # the service decides, see tests
    "risks:revoke": Rule(
        RISK_READERS, method="POST", kwargs=_acceptance, foreign_kwargs=_foreign_acceptance, object_scoped=OWNER
    ),
    "risks:acceptance_pdf": Rule(
        RISK_READERS, method="POST", kwargs=_acceptance, foreign_kwargs=_foreign_acceptance, object_scoped=OWNER
    ),
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
    # internal audits, nonconformities, corrective actions
    "audits:programmes": Rule(AUDIT_READERS),
    "audits:programme_create": Rule(AUDIT_PLANNERS),
    "audits:programme": Rule(AUDIT_READERS, kwargs=_programme),
    "audits:programme_edit": Rule(AUDIT_PLANNERS, kwargs=_programme),
    "audits:audit_create": Rule(AUDIT_PLANNERS, kwargs=_audit_create),
    "audits:audits": Rule(AUDIT_READERS),
    "audits:audit": Rule(AUDIT_READERS, kwargs=_audit),
    "audits:audit_edit": Rule(AUDIT_PLANNERS, kwargs=_audit),
    "audits:assign_auditors": Rule(AUDIT_PLANNERS, kwargs=_audit),
    "audits:audit_status": Rule(AUDIT_MANAGERS, method="POST", kwargs=_audit),
    "audits:generate_checklist": Rule(AUDIT_MANAGERS, method="POST", kwargs=_audit),
    "audits:report_draft": Rule(AUDIT_READERS, method="POST", kwargs=_audit),
    "audits:report_finalise": Rule(AUDIT_MANAGERS, method="POST", kwargs=_audit),  # officers, and the lead
    "audits:report_download": Rule(AUDIT_READERS, kwargs=_audit),  # 409 until the report is final
    "audits:item_row": Rule(AUDIT_READERS, kwargs=_item),
    "audits:item_edit": Rule(AUDIT_MEMBERS, kwargs=_item),
    "audits:item_raise": Rule(AUDIT_MEMBERS, kwargs=_item),
    "audits:register": Rule(NC_READERS),
    "audits:register_export": Rule(NC_READERS, kwargs=_register_csv),  # risk owner: rows of their risks only
    "audits:raise": Rule(NC_FOLLOW_UP),
    "audits:nonconformity": Rule(NC_READERS, kwargs=_nonconformity),
    "audits:nonconformity_analysis": Rule(NC_FOLLOW_UP, method="POST", kwargs=_nonconformity),
    "audits:action_create": Rule(NC_FOLLOW_UP, method="POST", kwargs=_nonconformity),
    "audits:verify": Rule(AUDIT_MEMBERS, method="POST", kwargs=_nonconformity),  # auditors (not implementers)
    "audits:close": Rule(NC_FOLLOW_UP, method="POST", kwargs=_nonconformity),
    "audits:calendar": Rule(ALL),  # one's own audits and calendar link
    "audits:calendar_link": Rule(ALL, method="POST"),
    "audits:calendar_ics": Rule(ALL, anonymous="public", kwargs=_calendar_ics),  # the secret is the credential
    "audits:my_actions": Rule(ALL),  # every user may be given an action; the list is their own
    "audits:action_update": Rule(ACTION_OWNER, method="POST", kwargs=_corrective_action),
    # API
    "api-root": Rule(ALL, anonymous="401"),
    "api-me": Rule(ALL, anonymous="401"),
    "api-token": Rule(ALL, anonymous="public", method="POST"),
    "apitoken-list": Rule(ALL, anonymous="401"),
    "apitoken-detail": Rule(TOKEN_OWNER_AND_ADMIN, anonymous="401", kwargs=_api_token),
    "apitoken-revoke": Rule(TOKEN_OWNER_AND_ADMIN, anonymous="401", method="POST", kwargs=_api_token),
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
    "risk-detail": Rule(RISK_READERS, anonymous="401", kwargs=_risk, foreign_kwargs=_foreign_risk, object_scoped=OWNER),
    "risk-accept": Rule(
        OWNER, anonymous="401", method="POST", kwargs=_risk, foreign_kwargs=_foreign_risk, object_scoped=OWNER
    ),
    "treatmentaction-list": Rule(ALL, anonymous="401"),
    "treatmentaction-detail": Rule(
        RISK_READERS, anonymous="401", kwargs=_risk_action_api, foreign_kwargs=_foreign_action, object_scoped=OWNER
    ),
    "riskacceptance-list": Rule(ALL, anonymous="401"),
    "riskacceptance-detail": Rule(
        RISK_READERS, anonymous="401", kwargs=_acceptance, foreign_kwargs=_foreign_acceptance, object_scoped=OWNER
    ),
    "riskacceptance-approve": Rule(
        APPROVERS, anonymous="401", method="POST", kwargs=_acceptance, foreign_kwargs=_foreign_acceptance
    ),
    "riskacceptance-revoke": Rule(
        RISK_READERS,
        anonymous="401",
        method="POST",
        kwargs=_acceptance,
        foreign_kwargs=_foreign_acceptance,
        object_scoped=OWNER,
    ),
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
    "auditprogramme-list": Rule(AUDIT_READERS, anonymous="401"),
    "auditprogramme-detail": Rule(AUDIT_READERS, anonymous="401", kwargs=_programme),
    "audit-list": Rule(AUDIT_READERS, anonymous="401"),
    "audit-detail": Rule(AUDIT_READERS, anonymous="401", kwargs=_audit),
    "audit-status": Rule(AUDIT_MANAGERS, anonymous="401", method="POST", kwargs=_audit),
    "audit-assign-auditors": Rule(AUDIT_PLANNERS, anonymous="401", method="POST", kwargs=_audit),
    "audit-generate-checklist": Rule(AUDIT_MANAGERS, anonymous="401", method="POST", kwargs=_audit),
    "audit-finalise": Rule(AUDIT_MANAGERS, anonymous="401", method="POST", kwargs=_audit),
    "checklistitem-list": Rule(ALL, anonymous="401"),  # narrowed to the audits each user may see
    "checklistitem-detail": Rule(AUDIT_READERS, anonymous="401", kwargs=_item),
    "nonconformity-list": Rule(ALL, anonymous="401"),
    "nonconformity-detail": Rule(NC_READERS, anonymous="401", kwargs=_nonconformity),
    "nonconformity-verify": Rule(AUDIT_MEMBERS, anonymous="401", method="POST", kwargs=_nonconformity),
    "nonconformity-close": Rule(NC_FOLLOW_UP, anonymous="401", method="POST", kwargs=_nonconformity),
    "correctiveaction-list": Rule(ALL, anonymous="401"),
    "correctiveaction-detail": Rule(NC_READERS, anonymous="401", kwargs=_corrective_action),
    "correctiveaction-progress": Rule(ACTION_OWNER, anonymous="401", method="POST", kwargs=_corrective_action),
    "correctiveaction-complete": Rule(ACTION_OWNER, anonymous="401", method="POST", kwargs=_corrective_action),
    "effectivenessverification-list": Rule(ALL, anonymous="401"),
    "effectivenessverification-detail": Rule(AUDIT_READERS, anonymous="401", kwargs=_verification),
    # HTTP push authenticates with the source's token only: a user's session or token is not enough
    "evidence-ingest": Rule(NOBODY, anonymous="401", method="POST", kwargs=_ingest),
}
