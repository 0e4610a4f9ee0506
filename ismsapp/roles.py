"""The five roles of the ISMS and the model permissions each one holds.

Roles are Django groups. A data migration creates them and ``sync_roles`` (run after every
``migrate``) gives each the permissions declared here, so a permission added by a new app reaches
its roles without anybody clicking in an admin screen. Object-level grants (a risk to its owner,
an engagement to an external auditor) are given by the services that create those objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models


class Role(models.TextChoices):
    COMPLIANCE_OFFICER = "compliance_officer", "Compliance officer"
    RISK_OWNER = "risk_owner", "Risk owner"
    INTERNAL_AUDITOR = "internal_auditor", "Internal auditor"
    EXTERNAL_AUDITOR = "external_auditor", "External auditor"
    ISMS_ADMIN = "isms_admin", "ISMS admin"


# "app_label.codename" per role; tests check that every entry exists.
READ_SOA = (
    "controls.view_clause",
    "controls.view_clauseentry",
    "controls.view_control",
    "controls.view_controlmapping",
    "controls.view_soaentry",
    "controls.view_soaversion",
)
EDIT_SOA = ("controls.change_clauseentry", "controls.change_soaentry")
READ_RISKS = (
    "risks.view_asset",
    "risks.view_risk",
    "risks.view_riskacceptance",
    "risks.view_riskmethodology",
    "risks.view_treatmentaction",
)
MANAGE_RISKS = (
    "risks.add_asset",
    "risks.add_risk",
    "risks.add_riskmethodology",
    "risks.add_treatmentaction",
    "risks.change_asset",
    "risks.change_risk",
    "risks.change_treatmentaction",
    "risks.delete_treatmentaction",
)
READ_EVIDENCE = (
    "evidence.view_event",
    "evidence.view_evidencesource",
    "evidence.view_ingestionjob",
    "evidence.view_sessionrecording",
)
READ_AUDIT_TRAIL = ("ismsapp.export_auditentry", "ismsapp.view_auditentry", "ismsapp.view_auditverification")
READ_AUDITS = (
    "audits.view_auditprogramme",
    "audits.view_audit",
    "audits.view_checklistitem",
    "audits.view_impartialityoverride",
    "audits.view_nonconformity",
    "audits.view_correctiveaction",
    "audits.view_effectivenessverification",
)
FOLLOW_UP_NONCONFORMITIES = (  # raise (directly), complete the analysis, plan actions, close after verification
    "audits.add_nonconformity",
    "audits.change_nonconformity",
    "audits.close_nonconformity",
    "audits.add_correctiveaction",
    "audits.change_correctiveaction",
)

ROLE_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    Role.COMPLIANCE_OFFICER: (
        *READ_SOA,
        *EDIT_SOA,
        "controls.publish_soaversion",
        *READ_RISKS,
        *MANAGE_RISKS,
        *READ_EVIDENCE,
        "evidence.add_ingestionjob",
        *READ_AUDIT_TRAIL,
        *READ_AUDITS,
        "audits.add_auditprogramme",
        "audits.change_auditprogramme",
        "audits.add_audit",
        "audits.change_audit",
        "audits.override_impartiality",
        *FOLLOW_UP_NONCONFORMITIES,
        "ismsapp.change_organisation",
        "ismsapp.view_organisation",
        "ismsapp.view_user",
    ),
    Role.RISK_OWNER: (
        *READ_SOA,
        "risks.own_risk",  # their own risks come through object permissions
        "risks.view_asset",
        "risks.view_riskmethodology",
        "ismsapp.view_organisation",
    ),
    Role.INTERNAL_AUDITOR: (
        *READ_SOA,
        *READ_RISKS,
        *READ_EVIDENCE,
        *READ_AUDIT_TRAIL,  # checking the application's own trail is part of the auditor's job
        *READ_AUDITS,
        "audits.conduct_audit",  # on the audits they are assigned to (checked by the services)
        *FOLLOW_UP_NONCONFORMITIES,
        "audits.add_effectivenessverification",
        "ismsapp.view_organisation",
        "ismsapp.view_user",
    ),
    Role.EXTERNAL_AUDITOR: (),  # engagement-scoped object grants only
    Role.ISMS_ADMIN: (  # administers users, evidence sources and keys; the SoA is the officers' to edit
        *READ_SOA,
        *READ_RISKS,
        *MANAGE_RISKS,
        "risks.approve_riskacceptance",
        *READ_EVIDENCE,
        *READ_AUDITS,
        "evidence.add_evidencesource",
        "evidence.change_evidencesource",
        "evidence.add_ingestionjob",
        *READ_AUDIT_TRAIL,
        "ismsapp.add_user",
        "ismsapp.change_apitoken",  # revoke anybody's API token
        "ismsapp.change_organisation",
        "ismsapp.change_user",
        "ismsapp.view_organisation",
        "ismsapp.view_apitoken",
        "ismsapp.view_user",
    ),
}


def sync_roles(get_model: Callable[[str, str], Any]) -> list[str]:
    """Create the role groups and set their permissions to exactly ``ROLE_PERMISSIONS``.

    ``get_model`` is ``apps.get_model`` (historical models in a migration, live ones otherwise).
    Returns the declared permissions that do not exist (yet); idempotent.
    """
    group_model = get_model("auth", "Group")
    permission_model = get_model("auth", "Permission")
    missing: list[str] = []
    for role, declared in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role.label)
        wanted = []
        for full in declared:
            app_label, codename = full.split(".", 1)
            permission = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is None:
                missing.append(full)
            else:
                wanted.append(permission)
        current = set(group.permissions.values_list("pk", flat=True))
        if current != {p.pk for p in wanted} and not missing:
            group.permissions.set(wanted)
        elif missing:
            group.permissions.add(*wanted)
    return missing


def role_group_names() -> list[str]:
    return [role.label for role in Role]


def roles_of(user: Any) -> list[Role]:
    names = {group.name for group in user.groups.all()}
    return [role for role in Role if role.label in names]
