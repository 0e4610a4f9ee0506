"""State changes of the platform: users and their roles, the organisation, lockouts, verification.

Every function takes a keyword-only ``actor``, runs in one transaction and leaves its trace in
the audit trail (model changes through django-auditlog, the rest through ``record_event``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from ismsapp.audit import ChainVerification, acting_as, record_event, record_verification, verify_chain
from ismsapp.models import AuditEntry, AuditVerification, Organisation, User
from ismsapp.roles import Role
from ismsapp.sessions import end_sessions
from ismsapp.tokens import revoke_tokens


def _role_groups(roles: Iterable[Role | str]) -> list[Group]:
    labels = [Role(role).label for role in roles]
    groups = list(Group.objects.filter(name__in=labels))
    if len(groups) != len(set(labels)):
        raise ValueError("Role groups are missing: run `python manage.py migrate`.")
    return groups


@transaction.atomic
def create_user(
    *,
    actor: User | None,
    username: str,
    password: str,
    roles: Iterable[Role | str] = (),
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create an active user holding ``roles``; the password must pass the password policy."""
    with acting_as(actor):
        user = User(username=username, email=email, first_name=first_name, last_name=last_name)
        validate_password(password, user)
        user.set_password(password)
        user.full_clean()
        user.save()
        user.groups.set(_role_groups(roles))
    return user


@transaction.atomic
def update_user(
    *,
    actor: User | None,
    user: User,
    roles: Iterable[Role | str],
    email: str,
    first_name: str,
    last_name: str,
    is_active: bool,
) -> User:
    """Change a user's details, roles and whether they may log in."""
    if actor is not None and actor.pk == user.pk and not is_active:
        raise ValueError("You cannot deactivate your own account.")
    roles_before = set(user.groups.values_list("pk", flat=True))
    with acting_as(actor):
        user.email, user.first_name, user.last_name, user.is_active = email, first_name, last_name, is_active
        user.full_clean()
        user.save()
        user.groups.set(_role_groups(roles))
    if not is_active:
        end_sessions(user, reason="account deactivated", actor=actor)
        revoke_tokens(user, reason="account deactivated", actor=actor)
    elif roles_before != set(user.groups.values_list("pk", flat=True)):
        end_sessions(user, reason="roles changed", actor=actor)
    return user


@transaction.atomic
def set_password(*, actor: User | None, user: User, password: str, keep_session_key: str | None = None) -> None:
    """Set a new password: every session of ``user`` but ``keep_session_key``'s ends, every API token
    is revoked (see ``ismsapp.tokens``)."""
    validate_password(password, user)
    with acting_as(actor):
        user.set_password(password)
        user.save(update_fields=["password"])
    end_sessions(user, keep_session_key=keep_session_key, reason="password changed", actor=actor)
    revoke_tokens(user, reason="password changed", actor=actor)


def locked_out_usernames() -> set[str]:
    from django.conf import settings

    return set(
        AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT).values_list(
            "username", flat=True
        )
    )


@transaction.atomic
def unlock_user(*, actor: User, user: User, request: Any = None) -> int:
    """Lift a failed-login lockout of ``user`` (every address). Returns the attempts cleared."""
    cleared = AxesProxyHandler.reset_attempts(username=user.get_username())
    with acting_as(actor):
        record_event(
            AuditEntry.Action.UPDATE,
            request=request,
            actor=actor,
            obj=user,
            detail={"event": "lockout lifted", "attempts_cleared": cleared},
        )
    return cleared


@transaction.atomic
def save_organisation(*, actor: User | None, name: str, isms_scope: str = "") -> Organisation:
    """Create or rename the organisation whose ISMS this is (there is exactly one)."""
    with acting_as(actor):
        organisation = Organisation.current() or Organisation(pk=1)
        organisation.name, organisation.isms_scope = name, isms_scope
        organisation.full_clean()
        organisation.save()
    return organisation


def verify_audit_trail() -> tuple[ChainVerification, AuditVerification]:
    """Verify the whole chain and keep the outcome (its own transaction, after the walk)."""
    result = verify_chain()
    with transaction.atomic():
        return result, record_verification(result)
