"""The application's own audit trail: who did what, when, from where, sealed in a hash chain.

Model changes reach ``append_entry`` through django-auditlog (``AuditEntry.objects.create``);
security events (login, logout, failed login, lockout, refused access, download) through
``record_event``. ``verify_chain`` re-computes the chain from the first entry.

Chain: ``entry_hash = SHA-256(prev_hash || "\\n" || canonical JSON of the entry)``, where the
canonical JSON has sorted keys, no spaces and UTF-8 text, so the chain can be checked offline
with any JSON library and ``sha256sum``.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from ismsapp.net import client_ip

if TYPE_CHECKING:
    from ismsapp.models import AuditEntry

GENESIS_HASH = "0" * 64
# Set on a request once a refusal of it is in the trail, so the middleware does not add another.
REFUSAL_RECORDED_FLAG = "_isms_refusal_recorded"


@dataclass(frozen=True)
class AuditContext:
    """Where the current change comes from: a web request, or a named process (task, command)."""

    request: HttpRequest | None = None
    label: str = "system"
    actor: Any = None  # set by services acting for a known user outside the request's own user


_context: ContextVar[AuditContext | None] = ContextVar("isms_audit_context", default=None)


@contextlib.contextmanager
def audit_context(
    *, request: HttpRequest | None = None, label: str = "system", actor: Any = None
) -> Iterator[AuditContext]:
    """Attribute every entry written inside the block to ``actor``, else ``request``'s user, else
    ``label`` (a task or command name). An inner block keeps the outer request (client address)."""
    outer = _context.get()
    if request is None and outer is not None:
        request = outer.request
    context = AuditContext(
        request=request, label=label if outer is None or label != "system" else outer.label, actor=actor
    )
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def acting_as(actor: Any) -> contextlib.AbstractContextManager[AuditContext]:
    """Used by services: entries written inside are attributed to ``actor``."""
    return audit_context(actor=actor if actor is not None and actor.is_authenticated else None)


def _request_user(request: HttpRequest | None) -> Any:
    # Read lazily: DRF authenticates inside the view and then sets request.user.
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _json_roundtrip(value: Any) -> Any:
    """The value exactly as a JSON column will give it back, so the hash survives storage."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _normalise_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return None


def canonical_content(entry: AuditEntry) -> bytes:
    """The bytes the hash covers: every field of the entry except its id and its own hash."""
    timestamp = entry.timestamp.astimezone(UTC).isoformat(timespec="microseconds")
    content = {
        "seq": entry.seq,
        "timestamp": timestamp,
        "action": entry.action,
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "actor_email": entry.actor_email,
        "remote_addr": entry.remote_addr,
        "remote_port": entry.remote_port,
        "object_type": entry.object_type,
        "object_pk": entry.object_pk,
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "changes": entry.changes,
        "changes_text": entry.changes_text,
        "serialized_data": entry.serialized_data,
        "additional_data": entry.additional_data,
        "cid": entry.cid,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def compute_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical_content(entry)).hexdigest()


def _lock_head() -> Any:
    from ismsapp.models import AuditChainHead

    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is not None:
        return head
    try:
        with transaction.atomic():
            AuditChainHead.objects.create(pk=1, seq=0, entry_hash=GENESIS_HASH)
    except IntegrityError:
        pass  # created concurrently
    return AuditChainHead.objects.select_for_update().get(pk=1)


def _fill_from_context(entry: AuditEntry) -> None:
    context = _context.get()
    request = context.request if context else None
    if entry.actor_id is None:
        user = (context.actor if context else None) or _request_user(request)
        if user is not None:
            entry.actor = user
    if entry.actor_id is not None:
        entry.actor_label = entry.actor.get_username()
        entry.actor_email = entry.actor_email or entry.actor.email or None
    elif not entry.actor_label:
        entry.actor_label = "anonymous" if request is not None else (context.label if context else "system")
    if entry.remote_addr is None and request is not None:
        entry.remote_addr = client_ip(request)


def append_entry(entry: AuditEntry) -> AuditEntry:
    """Seal ``entry`` as the next link of the chain and insert it (in the caller's transaction)."""
    _fill_from_context(entry)
    entry.remote_addr = _normalise_ip(entry.remote_addr)
    entry.timestamp = (entry.timestamp or timezone.now()).astimezone(UTC)
    if entry.content_type_id is not None and not entry.object_type:
        content_type = ContentType.objects.get_for_id(entry.content_type_id)
        entry.object_type = f"{content_type.app_label}.{content_type.model}"
    entry.object_pk = entry.object_pk or ""
    for field in entry._meta.concrete_fields:
        # Hash the values exactly as the database will give them back.
        value = getattr(entry, field.attname)
        if isinstance(field, models.JSONField):
            setattr(entry, field.attname, _json_roundtrip(value))
        elif not field.is_relation and value is not None:
            setattr(entry, field.attname, field.to_python(value))
    with transaction.atomic():
        head = _lock_head()
        entry.seq = head.seq + 1
        entry.prev_hash = head.entry_hash
        entry.entry_hash = compute_hash(entry.prev_hash, entry)
        entry.save(force_insert=True)
        head.seq, head.entry_hash = entry.seq, entry.entry_hash
        head.save(update_fields=["seq", "entry_hash"])
    return entry


def record_event(
    action: int,
    *,
    request: HttpRequest | None = None,
    actor: Any = None,
    obj: models.Model | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write a security event (login, refused access, download, ...) to the audit trail."""
    from ismsapp.models import AuditEntry

    data: dict[str, Any] = {}
    if request is not None:
        data["method"] = request.method
        data["path"] = request.get_full_path()[:500]
    data.update(detail or {})
    fields: dict[str, Any] = {
        "action": action,
        "actor": actor if actor is not None and actor.is_authenticated else _request_user(request),
        "remote_addr": client_ip(request) if request is not None else None,
        "additional_data": data or None,
    }
    if obj is not None:
        fields.update(
            content_type=ContentType.objects.get_for_model(obj),
            object_pk=str(obj.pk),
            object_id=obj.pk if isinstance(obj.pk, int) else None,
            object_repr=str(obj)[:500],
        )
    if action == AuditEntry.Action.ACCESS_DENIED:
        _mark_refusal_recorded(request)
    with audit_context(request=request) if request is not None else contextlib.nullcontext():
        return AuditEntry.objects.create(**fields)


def _mark_refusal_recorded(request: HttpRequest | None) -> None:
    """Flag the request being refused (given, else the current one) as already in the trail."""
    if request is None:
        context = _context.get()
        request = context.request if context else None
    raw = getattr(request, "_request", request)  # DRF's Request wraps Django's
    if raw is not None:
        setattr(raw, REFUSAL_RECORDED_FLAG, True)


@dataclass(frozen=True)
class ChainVerification:
    intact: bool
    entries_checked: int
    first_bad_seq: int | None = None
    detail: str = ""


def verify_chain(chunk_size: int = 5000) -> ChainVerification:
    """Walk the whole chain in order and report the first entry that breaks it, all in one
    consistent snapshot: entries written meanwhile are neither half-seen nor taken for deletions."""
    from ismsapp.snapshots import consistent_snapshot

    with consistent_snapshot():
        return _walk_chain(chunk_size)


def _walk_chain(chunk_size: int) -> ChainVerification:
    from ismsapp.models import AuditChainHead, AuditEntry

    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=chunk_size):
        if entry.seq != expected_seq:
            return ChainVerification(
                False,
                checked,
                expected_seq,
                f"entry #{expected_seq} is missing (deleted or renumbered); the next entry found is #{entry.seq}",
            )
        if entry.prev_hash != prev_hash:
            return ChainVerification(
                False,
                checked,
                entry.seq,
                f"entry #{entry.seq} (id {entry.pk}) does not link to entry #{entry.seq - 1}: "
                "entries were reordered, inserted or the previous entry's hash was rewritten",
            )
        if compute_hash(prev_hash, entry) != entry.entry_hash:
            return ChainVerification(
                False,
                checked,
                entry.seq,
                f"entry #{entry.seq} (id {entry.pk}) was altered: its content no longer matches its hash",
            )
        prev_hash, expected_seq, checked = entry.entry_hash, expected_seq + 1, checked + 1
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and (head.seq != checked or head.entry_hash != prev_hash):
        return ChainVerification(
            False,
            checked,
            checked + 1,
            f"the chain ends at entry #{checked} but its head records #{head.seq}: later entries were deleted",
        )
    return ChainVerification(True, checked, None, f"{checked} entries verified")


def record_verification(result: ChainVerification) -> Any:
    """Keep the outcome of a verification run (shown on the dashboard)."""
    from ismsapp.models import AuditVerification

    return AuditVerification.objects.create(
        intact=result.intact,
        entries_checked=result.entries_checked,
        first_bad_seq=result.first_bad_seq,
        detail=result.detail,
    )
