"""State changes of evidence sources (creation, token rotation, settings)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from evidence.formats import FORMATS
from evidence.models import EvidenceSource
from ismsapp.audit import acting_as
from ismsapp.models import User

SOURCE_FIELDS = ("name", "kind", "default_format", "hosts", "owner", "cadence_minutes", "supplier_accounts")
# The expected cadence, from every minute to once a year: 0 would keep a source stale forever, a
# longer one would keep it fresh for years.
CADENCE_MINUTES = (1, 366 * 24 * 60)


def _validate(values: dict[str, Any]) -> None:
    from django.core.exceptions import ValidationError

    errors = {}
    if "default_format" in values and values["default_format"] not in FORMATS:
        errors["default_format"] = f"Unknown format; use one of {', '.join(FORMATS)}."
    cadence, (low, high) = values.get("cadence_minutes"), CADENCE_MINUTES
    if isinstance(cadence, int) and not low <= cadence <= high:
        errors["cadence_minutes"] = f"Use between {low} and {high} minutes (366 days)."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_source(*, actor: User | None, **values: Any) -> tuple[EvidenceSource, str]:
    """Create a source; returns it with its push token (shown once: only its hash is kept)."""
    _validate(values)
    token, prefix, digest = EvidenceSource.new_token()
    with acting_as(actor):
        source = EvidenceSource(token_prefix=prefix, token_hash=digest, **values)
        source.full_clean()
        source.save()
    return source, token


@transaction.atomic
def update_source(*, actor: User, source: EvidenceSource, **values: Any) -> EvidenceSource:
    _validate(values)
    changed = [name for name in SOURCE_FIELDS if name in values]
    with acting_as(actor):
        for name in changed:
            setattr(source, name, values[name])
        source.full_clean()
        # only the settings: the chain head and last event time belong to ingestion, which may
        # have moved them since this instance was read
        source.save(update_fields=changed)
    return source


@transaction.atomic
def rotate_token(*, actor: User, source: EvidenceSource) -> str:
    token, prefix, digest = EvidenceSource.new_token()
    with acting_as(actor):
        source.token_prefix, source.token_hash = prefix, digest
        source.save(update_fields=["token_prefix", "token_hash"])
    return token


def ensure_source(*, actor: User | None, name: str, fmt: str, owner_username: str = "") -> EvidenceSource:
    """The source called ``name``, created on first use by a command: owned by ``owner_username``,
    or else by the first ISMS admin. ``ValueError`` names what is missing."""
    source = EvidenceSource.objects.filter(name=name).first()
    if source is not None:
        return source
    users = User.objects.filter(is_active=True)
    owner = (
        users.filter(username=owner_username).first()
        if owner_username
        else users.filter(groups__name="ISMS admin").order_by("pk").first()
        or users.filter(is_superuser=True).order_by("pk").first()
    )
    if owner is None:
        raise ValueError(
            f"No active user {owner_username!r} to own the new source."
            if owner_username
            else "No ISMS admin to own the new source: pass --owner USERNAME (make setup creates demo users)."
        )
    source, _ = create_source(actor=actor, name=name, default_format=fmt, owner=owner)
    return source


def record_receiver_loss(*, source_id: int, lost: int) -> None:
    """Add ``lost`` messages that a receiver of the source could not take (drops, kernel included).

    A counter moved by receivers, like the chain head by ingestion: not a change of the source's
    settings, so one UPDATE without an audit entry (the receiver logs each loss)."""
    if lost > 0:
        EvidenceSource.objects.filter(pk=source_id).update(
            messages_lost=F("messages_lost") + lost, last_loss_at=timezone.now()
        )


def source_by_token(token: str) -> EvidenceSource | None:
    if not token.startswith("isms_"):
        return None
    for source in EvidenceSource.objects.filter(token_prefix=token[:12]):
        if source.token_matches(token):
            return source
    return None
