"""The personal iCalendar feed of a user's audits: issue (or replace) its secret, revoke it, and
find the user a secret belongs to. Only the secret's SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from audits.models import CalendarFeed
from ismsapp.audit import acting_as
from ismsapp.models import User


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@transaction.atomic
def issue_calendar_feed(*, actor: User) -> str:
    """A new secret for ``actor``'s feed (any earlier one stops working); shown once."""
    secret = secrets.token_urlsafe(32)
    with acting_as(actor):
        CalendarFeed.objects.filter(user=actor).delete()
        CalendarFeed.objects.create(user=actor, key_digest=_digest(secret))
    return secret


@transaction.atomic
def revoke_calendar_feed(*, actor: User) -> bool:
    """Stop ``actor``'s feed; ``False`` if there was none."""
    with acting_as(actor):
        feed = CalendarFeed.objects.filter(user=actor).first()
        if feed is None:
            return False
        feed.delete()
    return True


def feed_user(secret: str) -> User | None:
    """The active user whose feed ``secret`` opens, or ``None``."""
    if not isinstance(secret, str) or not 20 <= len(secret) <= 100:
        return None
    feed = CalendarFeed.objects.select_related("user").filter(key_digest=_digest(secret)).first()
    if feed is None or not feed.user.is_active:
        return None
    today = timezone.localdate()
    if feed.last_used_on != today:
        CalendarFeed.objects.filter(pk=feed.pk).update(last_used_on=today)  # at most once a day
    return feed.user
