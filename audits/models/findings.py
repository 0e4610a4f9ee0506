"""Nonconformities, their corrective actions and the verification of those actions (clause 10.2)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from audits.models.programme import Audit, ChecklistItem, RequirementReference, exactly_one_requirement
from audits.models.text import text
from audits.querysets import CorrectiveActionQuerySet, NonconformityQuerySet, VerificationQuerySet


class Nonconformity(RequirementReference):
    class Severity(models.TextChoices):
        MAJOR = "major", "Major"
        MINOR = "minor", "Minor"

    class Source(models.TextChoices):
        CHECKLIST = "checklist", "Audit checklist"
        DIRECT = "direct", "Raised directly"

    class Origin(models.TextChoices):
        MANAGEMENT = "management", "Management"
        COMPLAINT = "complaint", "Complaint"
        MONITORING = "monitoring", "Monitoring result"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        AWAITING_VERIFICATION = "awaiting_verification", "Awaiting verification"
        VERIFIED = "verified", "Verified effective"
        CLOSED = "closed", "Closed"

    severity = models.CharField(max_length=5, choices=Severity.choices)
    source = models.CharField(max_length=10, choices=Source.choices)
    origin = models.CharField(max_length=12, choices=Origin.choices, blank=True)
    audit = models.ForeignKey(Audit, null=True, blank=True, on_delete=models.PROTECT, related_name="nonconformities")
    checklist_item = models.ForeignKey(
        ChecklistItem, null=True, blank=True, on_delete=models.PROTECT, related_name="nonconformities"
    )
    statement = text(5_000, blank=False)
    evidence = text(10_000)
    correction = text(5_000)
    root_cause = text(5_000)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.OPEN)
    raised_on = models.DateField()
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    closed_on = models.DateField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = NonconformityQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_on", "-pk"]
        verbose_name_plural = "nonconformities"
        permissions = [("close_nonconformity", "Can close a nonconformity after an effective verification")]
        indexes = [models.Index(fields=["status", "severity"])]
        constraints = [
            exactly_one_requirement("nonconformity_one_requirement"),
            models.CheckConstraint(
                condition=(Q(source="checklist") & Q(checklist_item__isnull=False) & Q(origin=""))
                | (Q(source="direct") & Q(checklist_item__isnull=True) & ~Q(origin="")),
                name="nonconformity_source_consistent",
                violation_error_message="A nonconformity comes from a checklist item, or directly with its origin.",
            ),
            models.CheckConstraint(
                condition=(Q(status="closed") & Q(closed_on__isnull=False) & Q(closed_on__gte=F("raised_on")))
                | (~Q(status="closed") & Q(closed_on__isnull=True)),
                name="nonconformity_closed_on_consistent",
                violation_error_message="A closed nonconformity has a closing date on or after it was raised.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.get_severity_display()}: {self.statement[:60]}"

    @property
    def reference(self) -> str:
        return f"NC-{self.pk:04d}" if self.pk else "NC-new"

    def clean(self) -> None:
        super().clean()
        if self.source == self.Source.CHECKLIST and not self.checklist_item_id:
            raise ValidationError({"checklist_item": "A nonconformity from the checklist names its item."})
        if self.source == self.Source.DIRECT and not self.origin:
            raise ValidationError({"origin": "Say where a directly raised nonconformity comes from."})


class CorrectiveAction(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        REOPENED = "reopened", "Reopened (found ineffective)"

    OPEN_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.REOPENED)

    nonconformity = models.ForeignKey(Nonconformity, on_delete=models.CASCADE, related_name="corrective_actions")
    description = text(5_000, blank=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="corrective_actions")
    due_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    progress_note = text(5_000)
    completed_on = models.DateField(null=True, blank=True)
    reopen_reason = text(5_000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CorrectiveActionQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "pk"]
        indexes = [models.Index(fields=["owner", "status"]), models.Index(fields=["status", "due_date"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status="done") & Q(completed_on__isnull=False))
                | (~Q(status="done") & Q(completed_on__isnull=True)),
                name="correctiveaction_completed_on_consistent",
                violation_error_message="A done action has its completion date, and only a done action.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.nonconformity.reference}: {self.description[:60]}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class EffectivenessVerification(models.Model):
    class Result(models.TextChoices):
        EFFECTIVE = "effective", "Effective"
        INEFFECTIVE = "ineffective", "Ineffective"

    nonconformity = models.ForeignKey(Nonconformity, on_delete=models.CASCADE, related_name="verifications")
    verifier = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verified_on = models.DateField()
    method = text(5_000, blank=False)
    result = models.CharField(max_length=12, choices=Result.choices)
    reason = text(5_000)
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = VerificationQuerySet.as_manager()

    class Meta:
        ordering = ["verified_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(result="effective") | ~Q(reason=""),
                name="verification_ineffective_has_reason",
                violation_error_message="An ineffective verification gives its reason.",
            ),
        ]

    def __str__(self) -> str:
        return f"Verification of {self.nonconformity.reference}: {self.get_result_display()}"

    def clean(self) -> None:
        if self.result == self.Result.INEFFECTIVE and not self.reason.strip():
            raise ValidationError({"reason": "Say why the actions were not effective."})


class ActionReminder(models.Model):
    """A reminder sent to an action's owner at one threshold (days from its due date, negative
    before it); unique per action, due date and threshold, so each threshold reminds only once
    and a new due date starts afresh."""

    action = models.ForeignKey(CorrectiveAction, on_delete=models.CASCADE, related_name="reminders")
    due_date = models.DateField()
    threshold = models.SmallIntegerField(help_text="Days after the due date (negative: before it).")
    sent_to = models.EmailField()
    sent_on = models.DateField()

    class Meta:
        ordering = ["action", "due_date", "threshold"]
        constraints = [
            models.UniqueConstraint(
                fields=["action", "due_date", "threshold"], name="actionreminder_once_per_threshold"
            )
        ]

    def __str__(self) -> str:
        return f"Reminder for {self.action_id} at {self.threshold:+d} days"


__all__ = ["ActionReminder", "CorrectiveAction", "EffectivenessVerification", "Nonconformity"]
