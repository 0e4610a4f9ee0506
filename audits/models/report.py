"""The finalised audit report (clause 9.2 f): the PDF as it was frozen, kept under its SHA-256.

A report row is written once, when the report is finalised, and never changed or removed: the
model and its queryset refuse it, and on PostgreSQL so do triggers (migration 0002).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from audits.models.programme import Audit
from audits.querysets import FollowsAuditQuerySet


def final_report_error(audit: Any = None) -> ValidationError:
    name = f"The report of {audit} is" if audit is not None else "A finalised audit report is"
    return ValidationError({"report": f"{name} final; nothing in it can change."}, code="final_report")


class AuditReportQuerySet(FollowsAuditQuerySet):
    """Bulk ``update``/``delete`` are refused like ``save``/``delete`` of one report."""

    def update(self, **kwargs: Any) -> int:
        raise final_report_error()

    def delete(self) -> tuple[int, dict[str, int]]:
        raise final_report_error()


class AuditReport(models.Model):
    audit = models.OneToOneField(Audit, on_delete=models.PROTECT, related_name="final_report")
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the frozen PDF (the content-addressed blob).")
    size = models.PositiveIntegerField()
    filename = models.CharField(max_length=200)
    finalised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    finalised_at = models.DateTimeField()

    objects = AuditReportQuerySet.as_manager()

    class Meta:
        ordering = ["-finalised_at", "pk"]

    def __str__(self) -> str:
        return f"Final report of {self.audit}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise final_report_error(self.audit)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise final_report_error(self.audit)


__all__ = ["AuditReport", "final_report_error"]
