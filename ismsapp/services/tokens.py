"""API tokens: named, expiring keys of one user, stored as SHA-256 hashes and shown once.

A key is ``ismsapi_`` followed by 43 random URL-safe characters (256 bits); only its SHA-256 and
its first characters (to recognise it in lists) are kept. Clients send it as
``Authorization: Token <key>`` (``TokenAuthentication``). A token is refused once it expired,
was revoked, or its user is inactive. Lifetime: ``ISMS_API_TOKEN_DEFAULT_DAYS`` (90) unless asked
otherwise, at most ``ISMS_API_TOKEN_MAX_DAYS`` (365).

Owners list, create and revoke their own tokens; ISMS admins (``ismsapp.view_apitoken`` /
``ismsapp.change_apitoken``) list and revoke everybody's. Every token of a user is revoked when
the user is deactivated or their password changes (a new password is what people set when they
fear a credential leaked; tokens issued under the old one go with it). Nobody creates a token for
somebody else.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ismsapp.audit import acting_as, record_event
from ismsapp.models import ApiToken, AuditEntry, User
from ismsapp.permissions import user_has

KEY_PREFIX = "ismsapi_"
SHOWN_PREFIX = 12  # characters of the key kept to recognise it: "ismsapi_" and 4 random ones
TOUCH_INTERVAL = timedelta(seconds=60)  # "last used" is written at most once a minute
NAME_MAX = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def default_days() -> int:
    return settings.ISMS_API_TOKEN_DEFAULT_DAYS


def max_days() -> int:
    return settings.ISMS_API_TOKEN_MAX_DAYS


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its key: the only moment the key exists outside the client."""

    token: ApiToken
    key: str


def visible_tokens(user: Any) -> QuerySet[ApiToken]:
    """The tokens ``user`` may list: their own, and everybody's for ISMS admins."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ApiToken.objects.none()
    scoped = ApiToken.objects.for_user(user, "view")
    return ApiToken.objects.filter(Q(user=user) | Q(pk__in=scoped.values("pk"))).select_related("user", "revoked_by")


def can_revoke(actor: Any, token: ApiToken) -> bool:
    return actor.is_authenticated and (token.user_id == actor.pk or user_has(actor, "ismsapp.change_apitoken", token))


def is_usable(token: ApiToken, now: Any = None) -> bool:
    return token.revoked_at is None and token.expires_at > (now or timezone.now())


def status_of(token: ApiToken) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "active" if is_usable(token) else "expired"


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": "Give the token a name (what will use it)."})
    if _CONTROL.search(name):
        raise ValidationError({"name": "The name may not contain control characters."})
    name = name.strip()
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"The name may have at most {NAME_MAX} characters (it has {len(name)})."})
    return name


def _clean_days(days: Any) -> int:
    if days is None or days == "":
        return default_days()
    if isinstance(days, bool) or not isinstance(days, int):
        raise ValidationError({"expires_in_days": "Give a whole number of days."})
    if not 1 <= days <= max_days():
        raise ValidationError({"expires_in_days": f"A token lives between 1 and {max_days()} days."})
    return days


@transaction.atomic
def create_token(*, actor: User, name: Any, expires_in_days: Any = None) -> IssuedToken:
    """Issue a token to ``actor`` (for themselves only). Bad input: ``ValidationError`` naming the field."""
    if not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied("Only an active user may create API tokens.")
    name = _clean_name(name)
    days = _clean_days(expires_in_days)
    now = timezone.now()
    if ApiToken.objects.filter(user=actor, name=name, revoked_at__isnull=True, expires_at__gt=now).exists():
        raise ValidationError({"name": f"You already have an active token named {name!r}; choose another name."})
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with acting_as(actor):
        token = ApiToken.objects.create(
            user=actor,
            name=name,
            prefix=key[:SHOWN_PREFIX],
            key_hash=hash_key(key),
            expires_at=now + timedelta(days=days),
        )
        record_event(
            AuditEntry.Action.CREATE,
            actor=actor,
            obj=token,
            detail={
                "event": "API token created",
                "name": name,
                "prefix": token.prefix,
                "expires_at": token.expires_at.isoformat(),
            },
        )
    return IssuedToken(token=token, key=key)


@transaction.atomic
def revoke_token(*, actor: User, token: ApiToken) -> bool:
    """Revoke one token (its owner or an ISMS admin). ``False`` if it was revoked already."""
    if not can_revoke(actor, token):
        raise PermissionDenied("You may not revoke this token.")
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        return False
    reason = "revoked by its owner" if actor.pk == token.user_id else "revoked by an ISMS admin"
    with acting_as(actor):
        token.revoked_at, token.revoked_by, token.revoke_reason = timezone.now(), actor, reason
        token.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        record_event(
            AuditEntry.Action.UPDATE,
            actor=actor,
            obj=token,
            detail={"event": "API token revoked", "reason": reason, "owner": token.user.username},
        )
    return True


@transaction.atomic
def revoke_tokens(user: User, *, reason: str, actor: User | None) -> int:
    """Revoke every token of ``user`` still standing (deactivation, password change)."""
    revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now(),
        revoked_by=actor if actor is not None and actor.is_authenticated else None,
        revoke_reason=reason[:100],
    )
    if revoked:
        with acting_as(actor):
            record_event(
                AuditEntry.Action.UPDATE,
                actor=actor,
                obj=user,
                detail={"event": "API tokens revoked", "reason": reason, "tokens": revoked},
            )
    return revoked


def token_for_key(key: str) -> ApiToken | None:
    return ApiToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()
