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
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet

from ismsapp.audit import ChainVerification, acting_as, record_event, record_verification, verify_chain
from ismsapp.models import AuditEntry, AuditVerification, Organisation, RoleGrant, User
from ismsapp.roles import Role, roles_of
from ismsapp.services.sessions import end_sessions
from ismsapp.services.tokens import revoke_tokens

# Roles that take effect only when a second ISMS admin approves the grant (four eyes).
ROLES_NEEDING_SECOND_APPROVAL: frozenset[Role] = frozenset({Role.ISMS_ADMIN})


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
        _apply_roles(actor=actor, user=user, roles=roles)
    return user


def check_may_change_roles(actor: User | None, user: User) -> None:
    """Nobody changes their own roles (an ISMS admin could otherwise make themselves anything)."""
    if actor is not None and actor.pk == user.pk:
        raise ValidationError({"roles": "You cannot change your own roles; ask another ISMS admin."})


def _apply_roles(*, actor: User | None, user: User, roles: Iterable[Role | str]) -> list[RoleGrant]:
    """Give ``user`` exactly ``roles``, except that a role needing a second approval is only
    requested (a pending ``RoleGrant``) when granted by a person; revoking is immediate.
    ``actor=None`` (commands, the demo set-up) grants directly. Returns the grants requested."""
    wanted = {Role(role) for role in roles}
    held = set(roles_of(user)) if user.pk else set()
    if wanted != held:
        check_may_change_roles(actor, user)
    requested: list[RoleGrant] = []
    effective = set(wanted)
    for role in wanted - held:
        if role in ROLES_NEEDING_SECOND_APPROVAL and actor is not None:
            effective.discard(role)
            requested.append(_request_grant(actor=actor, user=user, role=role))
    for grant in RoleGrant.objects.filter(user=user, status=RoleGrant.Status.PENDING).exclude(role__in=wanted):
        _decide(grant, actor=actor, status=RoleGrant.Status.WITHDRAWN)  # no longer asked for
    user.groups.set(_role_groups(effective))
    for role in held - wanted:
        record_event(
            AuditEntry.Action.ROLE_GRANT, actor=actor, obj=user, detail={"event": "revoked", "role": role.value}
        )
    for role in (wanted - held) - {Role(g.role) for g in requested}:
        record_event(
            AuditEntry.Action.ROLE_GRANT, actor=actor, obj=user, detail={"event": "granted", "role": role.value}
        )
    return requested


def _request_grant(*, actor: User, user: User, role: Role) -> RoleGrant:
    grant = RoleGrant.objects.filter(user=user, role=role.value, status=RoleGrant.Status.PENDING).first()
    if grant is None:
        grant = RoleGrant.objects.create(user=user, role=role.value, requested_by=actor)
        record_event(
            AuditEntry.Action.ROLE_GRANT, actor=actor, obj=user, detail={"event": "requested", "role": role.value}
        )
    return grant


def _decide(grant: RoleGrant, *, actor: User | None, status: str) -> None:
    from django.utils import timezone

    grant.status, grant.decided_by, grant.decided_at = status, actor, timezone.now()
    grant.save(update_fields=["status", "decided_by", "decided_at"])
    record_event(
        AuditEntry.Action.ROLE_GRANT,
        actor=actor,
        obj=grant.user,
        detail={"event": status, "role": grant.role, "requested_by": grant.requested_by.username},
    )


def pending_role_grants(user: User) -> QuerySet[RoleGrant]:
    """The grants waiting for a second ISMS admin: those who manage users see them all."""
    if not (user.is_authenticated and user.is_active and user.has_perm("ismsapp.change_user")):
        return RoleGrant.objects.none()
    return RoleGrant.objects.filter(status=RoleGrant.Status.PENDING).select_related("user", "requested_by")


def check_may_decide_grant(actor: User, grant: RoleGrant) -> None:
    """The second ISMS admin: not the one who asked, not the one who would receive the role."""
    if not actor.has_perm("ismsapp.change_user") or Role.ISMS_ADMIN not in roles_of(actor):
        raise PermissionDenied("Only an ISMS admin can approve or reject a role grant.")
    if grant.status != RoleGrant.Status.PENDING:
        raise ValidationError("This grant has already been decided.")
    if actor.pk == grant.requested_by_id:
        raise ValidationError("A second ISMS admin must approve this grant, not the one who asked for it.")
    if actor.pk == grant.user_id:
        raise ValidationError("You cannot approve a role for yourself.")


@transaction.atomic
def approve_role_grant(*, actor: User, grant: RoleGrant) -> RoleGrant:
    """The second ISMS admin approves: the role takes effect now."""
    grant = RoleGrant.objects.select_for_update().get(pk=grant.pk)
    check_may_decide_grant(actor, grant)
    with acting_as(actor):
        grant.user.groups.add(*_role_groups([grant.role]))
        _decide(grant, actor=actor, status=RoleGrant.Status.APPROVED)
    end_sessions(grant.user, reason="roles changed", actor=actor)
    return grant


@transaction.atomic
def reject_role_grant(*, actor: User, grant: RoleGrant) -> RoleGrant:
    grant = RoleGrant.objects.select_for_update().get(pk=grant.pk)
    check_may_decide_grant(actor, grant)
    with acting_as(actor):
        _decide(grant, actor=actor, status=RoleGrant.Status.REJECTED)
    return grant


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
        _apply_roles(actor=actor, user=user, roles=roles)
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
