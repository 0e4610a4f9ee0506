"""The internal audit programme (clause 9.2), its audits, impartiality overrides and checklists."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from audits.models.text import line, text
from audits.querysets import AuditQuerySet, FollowsAuditQuerySet
from controls.models import Edition
from ismsapp.querysets import ScopedQuerySet


def exactly_one_requirement(name: str) -> models.CheckConstraint:
    """A record points at one control or one clause, never both, never neither."""
    return models.CheckConstraint(
        condition=(Q(control__isnull=False) & Q(clause__isnull=True))
        | (Q(control__isnull=True) & Q(clause__isnull=False)),
        name=name,
        violation_error_message="Give either a control or a clause.",
    )


class RequirementReference(models.Model):
    """What a checklist item, an override or a nonconformity is about: a control or a clause."""

    control = models.ForeignKey("controls.Control", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    clause = models.ForeignKey("controls.Clause", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        abstract = True

    @property
    def requirement(self) -> Any:
        return self.control if self.control_id else self.clause

    @property
    def requirement_label(self) -> str:
        requirement = self.requirement
        if requirement is None:
            return ""
        kind = "Control" if self.control_id else "Clause"
        return f"{kind} {requirement.ref} {requirement.title}"

    def clean(self) -> None:
        if bool(self.control_id) == bool(self.clause_id):
            raise ValidationError({"control": "Give either a control or a clause (one of them, not both)."})


class AuditProgramme(models.Model):
    """A planned set of audits over a period (e.g. a three-year certification cycle)."""

    title = line(200, blank=False)
    edition = models.CharField(
        max_length=4, choices=Edition.choices, help_text="The Annex A edition whose SoA the programme covers."
    )
    period_start = models.DateField()
    period_end = models.DateField()
    objectives = text(10_000, blank=False)
    methods = text(10_000)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gt=F("period_start")),
                name="programme_period_order",
                violation_error_message="The programme must end after it starts.",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.period_start and self.period_end and self.period_end <= self.period_start:
            raise ValidationError({"period_end": "The programme must end after it starts."})


class Audit(models.Model):
    class Type(models.TextChoices):
        INTERNAL = "internal", "Internal"
        SURVEILLANCE = "surveillance", "Surveillance"
        CERTIFICATION = "certification", "Certification"
        SPECIAL = "special", "Special"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        IN_PROGRESS = "in_progress", "In progress"
        REPORTING = "reporting", "Reporting"
        CLOSED = "closed", "Closed"

    programme = models.ForeignKey(AuditProgramme, on_delete=models.PROTECT, related_name="audits")
    title = line(200, blank=False)
    audit_type = models.CharField(max_length=16, choices=Type.choices, default=Type.INTERNAL)
    controls = models.ManyToManyField("controls.Control", blank=True, related_name="audits")
    clauses = models.ManyToManyField("controls.Clause", blank=True, related_name="audits")
    processes = text(5_000)
    sites = text(5_000)
    criteria = text(10_000, blank=False)
    planned_start = models.DateField()
    planned_end = models.DateField()
    actual_start = models.DateField(null=True, blank=True)
    actual_end = models.DateField(null=True, blank=True)
    lead_auditor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="led_audits")
    team = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="audit_teams")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PLANNED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["planned_start", "pk"]
        permissions = [
            ("conduct_audit", "Can run the audits they are assigned to"),
            ("override_impartiality", "Can override an impartiality conflict with a written justification"),
        ]
        indexes = [models.Index(fields=["status", "planned_start"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(planned_end__gte=F("planned_start")),
                name="audit_planned_dates_order",
                violation_error_message="The audit cannot end before it starts.",
            ),
            models.CheckConstraint(
                condition=Q(actual_end__isnull=True) | Q(actual_start__isnull=False, actual_end__gte=F("actual_start")),
                name="audit_actual_dates_order",
                violation_error_message="The audit cannot end before it starts.",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.planned_start and self.planned_end and self.planned_end < self.planned_start:
            errors["planned_end"] = "The audit cannot end before it starts."
        if self.actual_end and not self.actual_start:
            errors["actual_start"] = "An audit that ended has a start date."
        elif self.actual_start and self.actual_end and self.actual_end < self.actual_start:
            errors["actual_end"] = "The audit cannot end before it starts."
        if errors:
            raise ValidationError(errors)


class ImpartialityOverride(RequirementReference):
    """A compliance officer's written decision that ``auditor`` may audit a requirement they are
    involved with; kept, shown on the audit and printed in its report."""

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="impartiality_overrides")
    auditor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    conflict = line(500, blank=False, help_text="The conflict as the impartiality check stated it.")
    justification = text(5_000, blank=False)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField(auto_now_add=True)

    objects = FollowsAuditQuerySet.as_manager()

    class Meta:
        ordering = ["granted_at", "pk"]
        constraints = [
            exactly_one_requirement("override_one_requirement"),
            models.UniqueConstraint(fields=["audit", "auditor", "control"], name="override_unique_control"),
            models.UniqueConstraint(fields=["audit", "auditor", "clause"], name="override_unique_clause"),
            models.CheckConstraint(
                condition=~Q(justification=""),
                name="override_has_justification",
                violation_error_message="An override needs a written justification.",
            ),
        ]

    def __str__(self) -> str:
        return f"Override for {self.auditor} on {self.requirement_label}"


class ChecklistItem(RequirementReference):
    """One question of an audit's checklist, about one control or clause of its scope.

    ``row_version`` grows with every save; a result recorded from an older version is refused.
    """

    class Result(models.TextChoices):
        CONFORMING = "conforming", "Conforming"
        MAJOR_NC = "major_nc", "Major nonconformity"
        MINOR_NC = "minor_nc", "Minor nonconformity"
        OBSERVATION = "observation", "Observation"
        IMPROVEMENT = "improvement", "Opportunity for improvement"
        NOT_AUDITED = "not_audited", "Not audited"

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="checklist")
    position = models.PositiveIntegerField(default=0)
    question = text(2_000, blank=False)
    result = models.CharField(max_length=12, choices=Result.choices, blank=True, help_text="Blank: not yet recorded.")
    notes = text(10_000)
    sample_description = text(2_000)
    sample_size = models.PositiveIntegerField(null=True, blank=True)
    row_version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = FollowsAuditQuerySet.as_manager()

    class Meta:
        ordering = ["audit", "position", "pk"]
        constraints = [
            exactly_one_requirement("checklistitem_one_requirement"),
            models.UniqueConstraint(fields=["audit", "control"], name="checklistitem_unique_control"),
            models.UniqueConstraint(fields=["audit", "clause"], name="checklistitem_unique_clause"),
        ]

    def __str__(self) -> str:
        return f"{self.audit}: {self.requirement_label}"

    @property
    def is_nonconformity(self) -> bool:
        return self.result in (self.Result.MAJOR_NC, self.Result.MINOR_NC)
