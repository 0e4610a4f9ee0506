"""Browser sessions: idle timeout, absolute lifetime, and the record of each user's sessions.

Every login puts a random session id into the session's data and creates a ``UserSession`` row
holding its SHA-256 (never the id, never the session key), when it started, when it was last seen,
from which address and browser. The id lives in the session's data rather than being the session
key so that the record survives ``cycle_key()`` (``update_session_auth_hash`` after a password or
MFA change keeps the user signed in under a new key). On every request
``SessionLifetimeMiddleware`` looks the row up and ends the session when

- it was idle longer than ``ISMS_SESSION_IDLE_TIMEOUT`` seconds (env ``ISMS_SESSION_IDLE_MINUTES``,
  default 30 minutes),
- it is older than ``ISMS_SESSION_ABSOLUTE_LIFETIME`` seconds (env ``ISMS_SESSION_ABSOLUTE_HOURS``,
  default 12 hours), or
- its row was ended (``end_sessions``: sign out everywhere, password, role or MFA change) or is
  missing.

Pages then go to the login page with a message saying why; API calls get 401 JSON.

Public API (other modules call these; keep the signatures stable):

``end_sessions(user, *, keep_session_key=None, reason, actor) -> int``
    End every session of ``user`` except the one whose key is ``keep_session_key`` (the caller's
    own session when a user changes something of their own and stays signed in). ``reason`` is a
    short text shown to the user at their next request and kept in the audit trail ("password
    changed", "roles changed", "MFA factors changed"); ``actor`` is who did it (``None``: the
    system). Writes one audit entry when any session ended; returns how many ended.
    ``keep_session_key`` is the Django session key (``request.session.session_key``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from ismsapp.audit import acting_as, record_event
from ismsapp.models import AuditEntry, User, UserSession
from ismsapp.net import client_ip

TOUCH_INTERVAL = timedelta(seconds=60)  # "last seen" is written at most once a minute
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

IDLE = "idle"
ABSOLUTE = "absolute"
ENDED = "ended"
UNKNOWN = "unknown"


SESSION_ID = "_isms_session_id"  # the random id inside each signed-in session's data


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def session_hash(session: SessionBase | None) -> str | None:
    """The stored hash naming ``session``'s record, or ``None`` if it has none."""
    session_id = session.get(SESSION_ID) if session is not None else None
    return hash_session_id(session_id) if isinstance(session_id, str) and session_id else None


def _hash_of_key(session_key: str) -> str | None:
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    return session_hash(store)


def idle_timeout() -> timedelta:
    return timedelta(seconds=settings.ISMS_SESSION_IDLE_TIMEOUT)


def absolute_lifetime() -> timedelta:
    return timedelta(seconds=settings.ISMS_SESSION_ABSOLUTE_LIFETIME)


def live_sessions(user: User) -> QuerySet[UserSession]:
    """The sessions of ``user`` that may still be used (not ended, not idle, not too old)."""
    now = timezone.now()
    return UserSession.objects.filter(
        user=user,
        ended_at__isnull=True,
        last_seen_at__gt=now - idle_timeout(),
        created_at__gt=now - absolute_lifetime(),
    ).order_by("-last_seen_at")


def expiry_of(row: UserSession | None, now: Any = None) -> str | None:
    """Why the session of ``row`` may not go on (``IDLE``, ``ABSOLUTE``, ``ENDED``, ``UNKNOWN``), or ``None``."""
    if row is None:
        return UNKNOWN
    if row.ended_at is not None:
        return ENDED
    now = now or timezone.now()
    if now - row.created_at >= absolute_lifetime():
        return ABSOLUTE
    if now - row.last_seen_at >= idle_timeout():
        return IDLE
    return None


def expiry_message(reason: str, row: UserSession | None = None) -> str:
    """What the user is told at the login page (and in the API's 401)."""
    if reason == IDLE:
        minutes = round(idle_timeout().total_seconds() / 60)
        return f"You were signed out after {minutes} minutes without activity. Please sign in again."
    if reason == ABSOLUTE:
        hours = absolute_lifetime().total_seconds() / 3600
        return f"Your session reached its maximum length of {hours:g} hours. Please sign in again."
    if reason == ENDED and row is not None and row.end_reason:
        return f"Your session was ended ({row.end_reason}). Please sign in again."
    return "Your session is no longer valid. Please sign in again."


def _user_agent(request: HttpRequest) -> str:
    return _CONTROL.sub(" ", request.headers.get("User-Agent", ""))[:300]


def record_login(request: HttpRequest, user: User) -> UserSession:
    """Keep the record of the session ``request`` has just been logged in with."""
    now = timezone.now()
    previous = session_hash(request.session)  # signing in again in the same browser keeps its data
    if previous:
        UserSession.objects.filter(key_hash=previous, ended_at__isnull=True).update(
            ended_at=now, end_reason="signed in again"
        )
    session_id = secrets.token_urlsafe(32)
    request.session[SESSION_ID] = session_id
    return UserSession.objects.create(
        user=user,
        key_hash=hash_session_id(session_id),
        created_at=now,
        last_seen_at=now,
        ip_address=client_ip(request),
        user_agent=_user_agent(request),
    )


def record_logout(request: HttpRequest) -> None:
    key_hash = current_session_hash(request)
    if key_hash:
        UserSession.objects.filter(key_hash=key_hash, ended_at__isnull=True).update(
            ended_at=timezone.now(), end_reason="signed out"
        )


def current_session_hash(request: HttpRequest) -> str | None:
    return session_hash(getattr(request, "session", None))


@transaction.atomic
def end_sessions(user: User, *, keep_session_key: str | None = None, reason: str, actor: User | None) -> int:
    """End the sessions of ``user`` (all but ``keep_session_key``'s); see the module's docstring."""
    reason = _CONTROL.sub(" ", reason).strip()[:100] or "ended"
    rows = UserSession.objects.filter(user=user, ended_at__isnull=True)
    keep = _hash_of_key(keep_session_key) if keep_session_key else None
    if keep:
        rows = rows.exclude(key_hash=keep)
    ended = rows.update(ended_at=timezone.now(), end_reason=reason)
    if ended:
        with acting_as(actor):
            record_event(
                AuditEntry.Action.LOGOUT,
                actor=actor,
                obj=user,
                detail={
                    "event": "sessions ended",
                    "reason": reason,
                    "sessions": ended,
                    "current_session_kept": bool(keep),
                },
            )
    return ended


def can_end_sessions_of(actor: Any, user: User) -> bool:
    """Everybody ends their own sessions; whoever may change a user ends theirs."""
    from ismsapp.permissions import user_has

    return actor.is_authenticated and (actor.pk == user.pk or user_has(actor, "ismsapp.change_user", user))


@transaction.atomic
def expire_session(request: HttpRequest, reason: str, row: UserSession | None) -> None:
    """End the request's session now: audit why (unless it was ended before), forget its data."""
    user = request.user
    now = timezone.now()
    if row is not None and row.ended_at is None:
        UserSession.objects.filter(pk=row.pk).update(ended_at=now, end_reason=f"expired ({reason})")
    if reason != ENDED:
        record_event(
            AuditEntry.Action.LOGOUT,
            request=request,
            actor=user,
            obj=user,
            detail={"event": "session expired", "reason": reason, "session": row.pk if row else None},
        )
    request.session.flush()
    request.user = AnonymousUser()


def touch(request: HttpRequest, row: UserSession, now: Any) -> None:
    """Note the session's activity (at most once a ``TOUCH_INTERVAL``)."""
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        UserSession.objects.filter(pk=row.pk).update(last_seen_at=now, ip_address=client_ip(request))
