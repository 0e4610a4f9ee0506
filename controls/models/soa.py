"""The Statement of Applicability: one entry per control (and per clause 4-10) and its published versions."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from controls.models.catalogue import Clause, Control, Edition
from ismsapp.querysets import ScopedQuerySet


class ImplementationStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    PLANNED = "planned", "Planned"
    PARTIAL = "partially_implemented", "Partially implemented"
    IMPLEMENTED = "implemented", "Implemented"


class InclusionReason(models.TextChoices):
    RISK_TREATMENT = "risk_treatment", "Risk treatment"
    LEGAL_REGULATORY = "legal_regulatory", "Legal or regulatory"
    CONTRACTUAL = "contractual", "Contractual"
    BUSINESS_REQUIREMENT = "business_requirement", "Business requirement"


class TrackedRequirement(models.Model):
    """What controls and clauses share: implementation status, owner, notes, review date.

    ``row_version`` grows with every save; an edit made from an older version is refused
    (optimistic locking) instead of silently overwriting someone else's change.
    """

    implementation_status = models.CharField(
        max_length=24, choices=ImplementationStatus.choices, default=ImplementationStatus.NOT_STARTED
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    implementation_notes = models.TextField(blank=True, max_length=10_000)
    last_reviewed = models.DateField(null=True, blank=True)
    row_version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        abstract = True


class SoAEntry(TrackedRequirement):
    """The SoA row of one control (of the working draft)."""

    control = models.OneToOneField(Control, on_delete=models.PROTECT, related_name="soa_entry")
    applicable = models.BooleanField(default=True)
    inclusion_reasons = models.JSONField(default=list, blank=True)
    justification = models.TextField(blank=True, max_length=10_000)
    review_needed = models.BooleanField(default=False)
    review_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["control__edition", "control__position"]
        verbose_name = "SoA entry"
        verbose_name_plural = "SoA entries"

    def __str__(self) -> str:
        return f"SoA {self.control.edition} {self.control.ref}"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if not self.applicable and not self.justification.strip():
            errors["justification"] = "A written justification is required to exclude a control."
        reasons = self.inclusion_reasons
        if not isinstance(reasons, list) or any(r not in InclusionReason.values for r in reasons):
            errors["inclusion_reasons"] = f"Inclusion reasons must be among: {', '.join(InclusionReason.values)}."
        elif len(set(reasons)) != len(reasons):
            errors["inclusion_reasons"] = "An inclusion reason is listed twice."
        if errors:
            raise ValidationError(errors)


class ClauseEntry(TrackedRequirement):
    """Status tracking of one management-system clause; clauses cannot be excluded."""

    clause = models.OneToOneField(Clause, on_delete=models.PROTECT, related_name="entry")

    class Meta:
        ordering = ["clause__edition", "clause__position"]
        verbose_name = "clause entry"
        verbose_name_plural = "clause entries"

    def __str__(self) -> str:
        return f"Clause {self.clause.edition} {self.clause.ref}"


def snapshot_digest(snapshot: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a snapshot (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def immutable_version_error(number: int | None) -> ValidationError:
    """The refusal of any change to a published version, on its ``version`` field."""
    name = f"Published version {number}" if number else "A published version"
    return ValidationError(
        {"version": f"{name} is immutable; edit the working draft and publish a new version."}, code="immutable"
    )


class SoAVersionQuerySet(ScopedQuerySet):
    """Bulk ``update``/``delete`` are refused like ``save``/``delete`` of one version (the database
    refuses them too on PostgreSQL, see migration 0002)."""

    def update(self, **kwargs: Any) -> int:
        raise immutable_version_error(None)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise immutable_version_error(None)

    delete.queryset_only = True  # type: ignore[attr-defined]  # as Django's: no Manager.delete()


class SoAVersion(models.Model):
    """A published, immutable snapshot of one edition's SoA, with its approval.

    ``snapshot_sha256`` is the digest of ``snapshot`` at publication; readers check it
    (``snapshot_intact``) before showing or exporting the version.
    """

    edition = models.CharField(max_length=4, choices=Edition.choices)
    number = models.PositiveIntegerField()
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_on = models.DateField()
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    published_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True, max_length=2_000)
    snapshot = models.JSONField()
    snapshot_sha256 = models.CharField(max_length=64)

    objects = SoAVersionQuerySet.as_manager()

    class Meta:
        ordering = ["edition", "-number"]
        constraints = [models.UniqueConstraint(fields=["edition", "number"], name="soaversion_unique_number")]
        permissions = [("publish_soaversion", "Can publish a version of the Statement of Applicability")]
        verbose_name = "SoA version"

    def __str__(self) -> str:
        return f"SoA {self.edition} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise immutable_version_error(self.number)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise immutable_version_error(self.number)

    def snapshot_intact(self) -> bool:
        """Whether the snapshot is still the one whose digest was recorded at publication."""
        return hmac.compare_digest(snapshot_digest(self.snapshot), self.snapshot_sha256)
