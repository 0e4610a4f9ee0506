"""Assets, risks, treatment actions and residual-risk acceptances."""

from __future__ import annotations

from typing import Any, Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from ismsapp.querysets import ScopedQuerySet
from risks.models.methodology import RiskMethodology

CIA_VALIDATORS = [MinValueValidator(1), MaxValueValidator(5)]


class Asset(models.Model):
    class Type(models.TextChoices):
        INFORMATION = "information", "Information"
        SOFTWARE = "software", "Software"
        HARDWARE = "hardware", "Hardware"
        SERVICE = "service", "Service"
        PEOPLE = "people", "People"
        SITE = "site", "Site"
        OTHER = "other", "Other"

    name = models.CharField(max_length=200, unique=True)
    asset_type = models.CharField(max_length=20, choices=Type.choices)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_assets")
    confidentiality = models.PositiveSmallIntegerField(validators=CIA_VALIDATORS, help_text="1 (low) to 5 (high)")
    integrity = models.PositiveSmallIntegerField(validators=CIA_VALIDATORS)
    availability = models.PositiveSmallIntegerField(validators=CIA_VALIDATORS)
    location = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True, max_length=5_000)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Risk(models.Model):
    class Treatment(models.TextChoices):
        MODIFY = "modify", "Modify (mitigate)"
        RETAIN = "retain", "Retain (accept)"
        AVOID = "avoid", "Avoid"
        SHARE = "share", "Share (transfer)"

    class Status(models.TextChoices):
        IDENTIFIED = "identified", "Identified"
        ASSESSED = "assessed", "Assessed"
        TREATMENT_PLANNED = "treatment_planned", "Treatment planned"
        TREATED = "treated", "Treated"
        ACCEPTANCE_REQUIRED = "acceptance_required", "Acceptance required"
        ACCEPTED = "accepted", "Accepted"
        CLOSED = "closed", "Closed"

    reference = models.CharField(max_length=20, unique=True, help_text="e.g. R-0042")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=10_000)
    assets = models.ManyToManyField(Asset, blank=True, related_name="risks")
    threat = models.CharField(max_length=300, blank=True)
    vulnerability = models.CharField(max_length=300, blank=True)
    affects_confidentiality = models.BooleanField(default=False)
    affects_integrity = models.BooleanField(default=False)
    affects_availability = models.BooleanField(default=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_risks")
    methodology = models.ForeignKey(RiskMethodology, on_delete=models.PROTECT, related_name="risks")
    inherent_likelihood = models.PositiveSmallIntegerField(null=True, blank=True)
    inherent_impact = models.PositiveSmallIntegerField(null=True, blank=True)
    inherent_level = models.CharField(max_length=30, blank=True)  # from the methodology's matrix
    inherent_rank = models.SmallIntegerField(null=True, blank=True)  # position of the level, for sorting
    treatment_option = models.CharField(max_length=10, choices=Treatment.choices, blank=True)
    controls = models.ManyToManyField("controls.Control", blank=True, related_name="treated_risks")
    residual_likelihood = models.PositiveSmallIntegerField(null=True, blank=True)
    residual_impact = models.PositiveSmallIntegerField(null=True, blank=True)
    residual_level = models.CharField(max_length=30, blank=True)
    residual_rank = models.SmallIntegerField(null=True, blank=True)
    # who scored the current residual risk, and when: an acceptance judged on one's own assessment
    # needs a second approval (set by the services whenever the residual scores change)
    residual_assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    residual_assessed_at = models.DateTimeField(null=True, blank=True)
    next_review = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IDENTIFIED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["reference"]
        permissions = [
            ("own_risk", "Can be the owner of risks"),
            ("accept_risk", "Can accept the residual risk"),
        ]
        indexes = [
            models.Index(fields=["status"]),
            models.Index(fields=["residual_rank"]),
            models.Index(fields=["owner", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def affected_cia(self) -> str:
        return "".join(
            letter
            for letter, on in (
                ("C", self.affects_confidentiality),
                ("I", self.affects_integrity),
                ("A", self.affects_availability),
            )
            if on
        )


class TreatmentActionQuerySet(ScopedQuerySet):
    def for_user(self, user: Any, perm: str = "view") -> Self:
        """Actions follow their risk: who may see (or change) the risk sees (or changes) its actions."""
        return self.filter(risk__in=Risk.objects.for_user(user, perm.split(".")[-1].split("_")[0]))


class TreatmentAction(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    risk = models.ForeignKey(Risk, on_delete=models.CASCADE, related_name="actions")
    description = models.CharField(max_length=500)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PLANNED)
    progress_note = models.TextField(blank=True, max_length=2_000, help_text="Where the action stands.")

    objects = TreatmentActionQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "pk"]

    def __str__(self) -> str:
        return f"{self.risk.reference}: {self.description}"


class AcceptanceQuerySet(ScopedQuerySet):
    def for_user(self, user: Any, perm: str = "view") -> Self:
        """Acceptances are visible to whoever may see their risk, and to the second approvers."""
        if user is not None and user.is_authenticated and user.has_perm("risks.approve_riskacceptance"):
            return self.filter(
                models.Q(risk__in=Risk.objects.for_user(user, "view"))
                | models.Q(status=RiskAcceptance.Status.PENDING_APPROVAL)
            )
        return self.filter(risk__in=Risk.objects.for_user(user, "view"))


class RiskAcceptance(models.Model):
    """A risk owner's signed, dated decision to accept a residual risk until ``expires_on``.

    The snapshot freezes what was accepted (scores, treatment, controls, methodology version); it
    is never edited. Only ``status`` and the closing fields change, through services.
    """

    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval", "Awaiting second approval"
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        VOIDED = "voided", "Voided by a change"
        REVOKED = "revoked", "Revoked"
        REJECTED = "rejected", "Second approval refused"

    OPEN = (Status.PENDING_APPROVAL, Status.ACTIVE)

    risk = models.ForeignKey(Risk, on_delete=models.PROTECT, related_name="acceptances")
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(auto_now_add=True)
    justification = models.TextField(max_length=5_000)
    expires_on = models.DateField()
    residual_level = models.CharField(max_length=30)
    needs_second_approval = models.BooleanField(default=False)
    second_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    second_approved_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=500, blank=True)
    reminder_sent_on = models.DateField(null=True, blank=True)
    snapshot = models.JSONField()
    snapshot_sha256 = models.CharField(max_length=64)

    objects = AcceptanceQuerySet.as_manager()

    class Meta:
        ordering = ["-accepted_at"]
        permissions = [("approve_riskacceptance", "Can give the second approval of a residual risk above appetite")]
        constraints = [
            models.UniqueConstraint(
                fields=["risk"],
                condition=models.Q(status__in=["pending_approval", "active"]),
                name="one_open_acceptance_per_risk",
            ),
        ]

    def __str__(self) -> str:
        return f"Acceptance of {self.risk.reference} by {self.accepted_by} ({self.get_status_display()})"

    def clean(self) -> None:
        if self.accepted_by_id and self.second_approver_id and self.accepted_by_id == self.second_approver_id:
            raise ValidationError({"second_approver": "The second approval must come from another person."})

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN
