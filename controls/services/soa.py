"""State changes of the SoA: editing rows (with optimistic locking), confirming reviews, publishing,
and refusing (with an audit-trail entry) a published version whose snapshot was altered.

Each function takes a keyword-only ``actor``, runs in one transaction and is captured by the
audit trail (field-level changes through django-auditlog).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from controls.models import ClauseEntry, ImplementationStatus, SoAEntry, SoAVersion, snapshot_digest
from controls.soa import draft_view
from ismsapp.audit import acting_as, record_event
from ismsapp.models import AuditEntry, User


class EditConflict(Exception):
    """The row changed since the editor loaded it; ``current`` is the row as it is now."""

    def __init__(self, current: SoAEntry | ClauseEntry) -> None:
        who = current.updated_by.get_username() if current.updated_by else "someone else"
        when = timezone.localtime(current.updated_at).strftime("%Y-%m-%d %H:%M UTC")
        super().__init__(
            f"Not saved: {who} changed this row at {when}, after you opened it. "
            "Their version is shown below; re-apply your change if it is still needed."
        )
        self.current = current


def _check_owner(owner: User | None) -> None:
    if owner is not None and not owner.is_active:
        raise ValidationError({"owner": "The owner must be an active user."})


def _save_tracked(row: SoAEntry | ClauseEntry, *, actor: User, expected_version: int, values: dict[str, Any]) -> Any:
    """Lock the row, refuse a stale edit, apply ``values``, validate and save."""
    model = type(row)
    current = model.objects.select_for_update(of=("self",)).select_related("updated_by").get(pk=row.pk)
    if current.row_version != expected_version:
        raise EditConflict(current)
    _check_owner(values.get("owner"))
    if "implementation_status" in values and values["implementation_status"] not in ImplementationStatus.values:
        raise ValidationError({"implementation_status": f"Unknown status {values['implementation_status']!r}."})
    for name, value in values.items():
        setattr(current, name, value)
    current.full_clean()
    current.row_version += 1
    current.updated_by = actor
    current.save()
    return current


@transaction.atomic
def update_soa_entry(
    *,
    actor: User,
    entry: SoAEntry,
    expected_version: int,
    applicable: bool,
    inclusion_reasons: list[str],
    justification: str,
    implementation_status: str,
    owner: User | None,
    implementation_notes: str = "",
    last_reviewed: date | None = None,
) -> SoAEntry:
    """Save one control's SoA row. An excluded control keeps no inclusion reason and needs a
    written justification; a stale ``expected_version`` raises ``EditConflict``."""
    with acting_as(actor):
        return _save_tracked(
            entry,
            actor=actor,
            expected_version=expected_version,
            values={
                "applicable": applicable,
                "inclusion_reasons": list(dict.fromkeys(inclusion_reasons)) if applicable else [],
                "justification": justification.strip(),
                "implementation_status": implementation_status,
                "owner": owner,
                "implementation_notes": implementation_notes.strip(),
                "last_reviewed": last_reviewed,
            },
        )


@transaction.atomic
def update_clause_entry(
    *,
    actor: User,
    entry: ClauseEntry,
    expected_version: int,
    implementation_status: str,
    owner: User | None,
    implementation_notes: str = "",
    last_reviewed: date | None = None,
) -> ClauseEntry:
    """Save one clause's status row (clauses 4-10 always apply)."""
    with acting_as(actor):
        return _save_tracked(
            entry,
            actor=actor,
            expected_version=expected_version,
            values={
                "implementation_status": implementation_status,
                "owner": owner,
                "implementation_notes": implementation_notes.strip(),
                "last_reviewed": last_reviewed,
            },
        )


@transaction.atomic
def confirm_review(*, actor: User, entry: SoAEntry, expected_version: int) -> SoAEntry:
    """Clear the "review needed" flag (set by the 2013 -> 2022 transition) after a person checked the row."""
    with acting_as(actor):
        return _save_tracked(
            entry, actor=actor, expected_version=expected_version, values={"review_needed": False, "review_note": ""}
        )


class AlteredVersionError(ValidationError):
    """A published version whose snapshot no longer matches the SHA-256 recorded at publication."""

    def __init__(self, version: SoAVersion) -> None:
        super().__init__(
            {
                "version": (
                    f"Published version {version.number} of the {version.edition} SoA was altered after "
                    "publication: its content no longer matches the SHA-256 recorded when it was published, "
                    "so it is neither shown nor exported. The refusal is recorded in the audit trail; "
                    "ask an ISMS admin to investigate."
                )
            },
            code="altered",
        )
        self.version = version

    def __str__(self) -> str:  # the message itself, e.g. in a failed report's error or a log
        return " ".join(self.messages)


def check_version_integrity(version: SoAVersion, *, actor: User | None = None) -> None:
    """Refuse ``version`` (``AlteredVersionError``) if its snapshot was changed behind the app's
    back, recording the refusal in the audit trail first. The entry is written in the caller's
    transaction: call this outside any block that the refusal rolls back."""
    if version.snapshot_intact():
        return
    record_event(
        AuditEntry.Action.ACCESS_DENIED,
        actor=actor,
        obj=version,
        detail={
            "reason": "published SoA version altered",
            "edition": version.edition,
            "number": version.number,
            "recorded_sha256": version.snapshot_sha256,
            "actual_sha256": snapshot_digest(version.snapshot),
        },
    )
    raise AlteredVersionError(version)


@transaction.atomic
def publish_soa(
    *, actor: User, edition: str, approver: User | None, approved_on: date | None, note: str = ""
) -> SoAVersion:
    """Freeze the working draft of ``edition`` as the next version, approved by ``approver``."""
    errors: dict[str, str] = {}
    if approver is None:
        errors["approver"] = "An approver is required to publish a version."
    elif not approver.is_active:
        errors["approver"] = "The approver must be an active user."
    if approved_on is None:
        errors["approved_on"] = "The approval date is required."
    elif approved_on > timezone.localdate():
        errors["approved_on"] = "The approval date cannot be in the future."
    if errors:
        raise ValidationError(errors)
    snapshot = draft_view(edition).to_snapshot()
    number = (SoAVersion.objects.filter(edition=edition).aggregate(n=Max("number"))["n"] or 0) + 1
    with acting_as(actor):
        try:
            with transaction.atomic():
                return SoAVersion.objects.create(
                    edition=edition,
                    number=number,
                    approver=approver,
                    approved_on=approved_on,
                    published_by=actor,
                    note=note.strip(),
                    snapshot=snapshot,
                    snapshot_sha256=snapshot_digest(snapshot),
                )
        except IntegrityError as exc:
            raise ValidationError("Another version was published at the same moment; publish again.") from exc
