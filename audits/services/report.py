"""Finalising the audit report (clause 9.2 f): rendered once, frozen, kept under its SHA-256."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from audits.models import Audit, AuditReport
from audits.services.rules import REPORTABLE_STATUSES, can_manage_audit, report_is_final
from ismsapp.audit import acting_as
from ismsapp.blobs import store_bytes
from ismsapp.models import User


@transaction.atomic
def finalise_audit_report(*, actor: User, audit: Audit) -> AuditReport:
    """Render the report of ``audit`` as final and freeze it: the PDF goes to the content-addressed
    store, its SHA-256 onto the report row (whose creation, with the digest, is in the audit trail),
    and from then on neither the report nor what it shows can change. The caller has confirmed
    the actor's identity ("confirm it's you")."""
    from audits.reports import Finalisation, audit_report_pdf, report_filename

    audit = Audit.objects.select_for_update().get(pk=audit.pk)
    if not can_manage_audit(actor, audit):
        raise PermissionDenied(f"Only a compliance officer or the lead auditor may finalise the report of {audit}.")
    existing = AuditReport.objects.filter(audit=audit).first()
    if existing is not None:
        raise ValidationError(
            {"report": f"The report was already finalised on {existing.finalised_at:%Y-%m-%d %H:%M} UTC; it is final."}
        )
    if audit.status not in REPORTABLE_STATUSES:
        raise ValidationError(
            {"status": f"The audit is {audit.get_status_display().lower()}; finalise its report once it is reporting."}
        )
    finalised_at = timezone.now()
    content = audit_report_pdf(audit, Finalisation(by=actor, at=finalised_at))
    sha256 = store_bytes(content)
    with acting_as(actor):
        return AuditReport.objects.create(
            audit=audit,
            sha256=sha256,
            size=len(content),
            filename=report_filename(audit, final=True),
            finalised_by=actor,
            finalised_at=finalised_at,
        )


__all__ = ["finalise_audit_report", "report_is_final"]
