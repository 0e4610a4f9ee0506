"""The platform's own dashboard panels: you, people and roles, audit-trail health."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import Group
from django.db.models import Count, Q
from django.utils import timezone

from ismsapp.dashboard import Panel, register
from ismsapp.roles import role_group_names


def _you(user: Any) -> dict[str, Any]:
    from ismsapp.services import mfa

    return {"roles": user.role_names, "last_login": user.last_login, "mfa_status": mfa.status_label(user)}


def _people(user: Any) -> dict[str, Any]:
    from ismsapp.models import User

    roles = dict(
        Group.objects.filter(name__in=role_group_names())
        .annotate(active=Count("user", filter=Q(user__is_active=True)))
        .values_list("name", "active")
    )
    totals = User.objects.aggregate(
        active=Count("pk", filter=Q(is_active=True)),
        inactive=Count("pk", filter=Q(is_active=False)),
        without_role=Count("pk", filter=Q(is_active=True, groups__isnull=True)),
    )
    return {"roles": [(name, roles.get(name, 0)) for name in role_group_names()], **totals}


def _audit_trail(user: Any) -> dict[str, Any]:
    from ismsapp.models import AuditEntry, AuditVerification

    since = timezone.now() - timedelta(hours=24)
    action = AuditEntry.Action
    figures = AuditEntry.objects.filter(timestamp__gte=since).aggregate(
        entries=Count("pk"),
        changes=Count("pk", filter=Q(action__in=[action.CREATE, action.UPDATE, action.DELETE])),
        logins=Count("pk", filter=Q(action=action.LOGIN)),
        failed_logins=Count("pk", filter=Q(action=action.LOGIN_FAILED)),
        refused=Count("pk", filter=Q(action=action.ACCESS_DENIED)),
        downloads=Count("pk", filter=Q(action=action.DOWNLOAD)),
    )
    locked = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT).count()
    return {**figures, "locked_out": locked, "verification": AuditVerification.objects.order_by("-checked_at").first()}


def register_panels() -> None:
    register(Panel("you", "You", "dashboard/panel_you.html", _you, order=1))
    register(Panel("people", "People and roles", "dashboard/panel_people.html", _people, "ismsapp.view_user", order=90))
    register(
        Panel(
            "audit_trail",
            "Audit trail, last 24 hours",
            "dashboard/panel_audit_trail.html",
            _audit_trail,
            "ismsapp.view_auditentry",
            order=91,
        )
    )
