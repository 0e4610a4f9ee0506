"""Reads of the audits app, each starting from ``for_user(user, perm)``.

Programmes, audits and checklists are read role-wide (compliance officers, internal auditors,
ISMS admins). Nonconformities are also visible to the risk owners whose risks are treated by the
control they are raised against, and to the owners of their corrective actions; an action owner
sees their own actions.
"""

from __future__ import annotations

from typing import Any, Self

from django.apps import apps
from django.db import models

from ismsapp.querysets import ScopedQuerySet, permission_codename


def _active(user: Any) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def _verb(perm: str) -> str:
    return perm.split(".")[-1].split("_")[0]


class AuditQuerySet(ScopedQuerySet):
    def assigned_to(self, user: Any) -> Self:
        """Audits in which ``user`` is the lead auditor or a team member."""
        return self.filter(models.Q(lead_auditor=user) | models.Q(team=user)).distinct()


class FollowsAuditQuerySet(ScopedQuerySet):
    """Checklist items and impartiality overrides: whoever may see the audit sees them."""

    def for_user(self, user: Any, perm: str = "view") -> Self:
        audit_model = apps.get_model("audits", "Audit")
        return self.filter(audit__in=audit_model.objects.for_user(user, _verb(perm)))


class NonconformityQuerySet(ScopedQuerySet):
    def for_user(self, user: Any, perm: str = "view") -> Self:
        if not _active(user):
            return self.none()
        if user.has_perm(permission_codename(self.model, perm)):
            return self
        if _verb(perm) != "view":
            return self.none()
        risk_model = apps.get_model("risks", "Risk")
        visible_risks = risk_model.objects.for_user(user, "view")
        return self.filter(
            models.Q(control__treated_risks__in=visible_risks) | models.Q(corrective_actions__owner=user)
        ).distinct()

    def open(self) -> Self:
        return self.exclude(status=self.model.Status.CLOSED)


class CorrectiveActionQuerySet(ScopedQuerySet):
    def for_user(self, user: Any, perm: str = "view") -> Self:
        if not _active(user):
            return self.none()
        if user.has_perm(permission_codename(self.model, perm)):
            return self
        if _verb(perm) != "view":
            return self.filter(owner=user)
        nonconformity_model = apps.get_model("audits", "Nonconformity")
        return self.filter(
            models.Q(owner=user) | models.Q(nonconformity__in=nonconformity_model.objects.for_user(user, "view"))
        )

    def owned_by(self, user: Any) -> Self:
        return self.filter(owner=user)


class VerificationQuerySet(ScopedQuerySet):
    def for_user(self, user: Any, perm: str = "view") -> Self:
        if not _active(user):
            return self.none()
        if user.has_perm(permission_codename(self.model, perm)):
            return self
        nonconformity_model = apps.get_model("audits", "Nonconformity")
        return self.filter(nonconformity__in=nonconformity_model.objects.for_user(user, "view"))
