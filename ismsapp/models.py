"""Accounts, the organisation running the ISMS, and the tamper-evident audit trail."""

from __future__ import annotations

import uuid
from typing import Any

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models

from ismsapp.querysets import ScopedQuerySet


class ScopedUserManager(UserManager.from_queryset(ScopedQuerySet)):  # type: ignore[misc]
    """Django's user manager plus ``for_user``."""


class User(AbstractUser):
    """A person using the ISMS. Roles are Django groups (see ``ismsapp.roles``).

    Users are deactivated, never deleted: the audit trail keeps pointing at them.
    """

    # Why this person may log in without a second factor although their role requires one
    # (blank: no exemption). The demo users of ``make run`` carry "demo".
    mfa_exemption = models.CharField(
        "MFA exemption",
        max_length=50,
        blank=True,
        help_text="Why this user may log in without a second factor although their role requires one.",
    )

    objects = ScopedUserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ["username"]

    def __str__(self) -> str:
        full_name = self.get_full_name()
        return f"{full_name} ({self.username})" if full_name else self.username

    @property
    def role_names(self) -> list[str]:
        return sorted(group.name for group in self.groups.all())


class RoleGrant(models.Model):
    """A grant of a role that needs a second person's approval (the ISMS admin role): recorded as
    pending by one ISMS admin, it takes effect only when another ISMS admin approves it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a second ISMS admin"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="role_grants")
    role = models.CharField(max_length=50)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role"], condition=models.Q(status="pending"), name="one_pending_grant_per_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.role} for {self.user} ({self.get_status_display()})"


class Organisation(models.Model):
    """The organisation whose ISMS this installation runs (one per installation)."""

    name = models.CharField(max_length=200)
    isms_scope = models.TextField(blank=True, help_text="Scope of the ISMS (clause 4.3).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="organisation_singleton")]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def current(cls) -> Organisation | None:
        return cls.objects.filter(pk=1).first()


class AuditEntryManager(LogEntryManager.from_queryset(ScopedQuerySet)):  # type: ignore[misc]
    """Every entry is created here: ``create`` seals it into the hash chain."""

    def create(self, **kwargs: Any) -> AuditEntry:
        from ismsapp.audit import append_entry

        return append_entry(self.model(**kwargs))


class AuditEntry(AbstractLogEntry):
    """One append-only, hash-chained entry of the application's own audit trail.

    django-auditlog captures model changes (field-level before/after in ``changes``); the
    security events (logins, refused access, downloads) are written by ``ismsapp.audit``.
    ``seq`` orders the chain; ``entry_hash`` = SHA-256(``prev_hash`` || canonical content).
    """

    class Action(AbstractLogEntry.Action):
        LOGIN = 10
        LOGOUT = 11
        LOGIN_FAILED = 12
        ACCESS_DENIED = 13
        DOWNLOAD = 14
        LOCKED_OUT = 15
        IDENTITY_CONFIRMED = 16
        MFA_CHANGED = 17
        ROLE_GRANT = 18

        choices = (
            *AbstractLogEntry.Action.choices,
            (LOGIN, "login"),
            (LOGOUT, "logout"),
            (LOGIN_FAILED, "failed login"),
            (ACCESS_DENIED, "access refused"),
            (DOWNLOAD, "download"),
            (LOCKED_OUT, "locked out"),
            (IDENTITY_CONFIRMED, "identity confirmed"),
            (MFA_CHANGED, "second factor changed"),
            (ROLE_GRANT, "role grant"),
        )

    content_type = models.ForeignKey(
        "contenttypes.ContentType", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    actor = models.ForeignKey("ismsapp.User", on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    action = models.PositiveSmallIntegerField(choices=Action.choices, db_index=True)
    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    actor_label = models.CharField(max_length=150, blank=True, editable=False)
    object_type = models.CharField(max_length=100, blank=True, db_index=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    entry_hash = models.CharField(max_length=64, editable=False)

    objects = AuditEntryManager()

    class Meta:
        ordering = ["-seq"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        permissions = [("export_auditentry", "Can export the audit trail")]
        indexes = [models.Index(fields=["timestamp", "seq"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.get_action_display()} {self.object_type} {self.object_repr}".strip()

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding or not self.entry_hash:
            raise TypeError("Audit entries are append-only: create them through AuditEntry.objects.create().")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("Audit entries are append-only and cannot be deleted.")


class AuditChainHead(models.Model):
    """The last sealed position of the audit chain (one row). Appends lock it, so seq has no gaps."""

    seq = models.PositiveBigIntegerField(default=0)
    entry_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="audit_chain_head_singleton")]

    def __str__(self) -> str:
        return f"audit chain head #{self.seq}"


class AuditVerification(models.Model):
    """The result of one verification of the whole audit chain (by command or periodic task)."""

    checked_at = models.DateTimeField(auto_now_add=True, db_index=True)
    intact = models.BooleanField()
    entries_checked = models.PositiveBigIntegerField()
    first_bad_seq = models.PositiveBigIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-checked_at"]
        get_latest_by = "checked_at"

    def __str__(self) -> str:
        return f"{'intact' if self.intact else 'BROKEN'} at {self.checked_at:%Y-%m-%d %H:%M}"


class RefusalCounter(models.Model):
    """How many refused accesses of one kind from one actor (or client address) the audit trail
    took in the current minute, and how many it left out (see ``ismsapp/refusals.py``).

    A table, not a process-local cache, so the bound holds across web processes and workers."""

    key = models.CharField(max_length=200, unique=True)
    window_start = models.DateTimeField()
    recorded = models.PositiveIntegerField(default=0)
    suppressed = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.recorded} recorded, {self.suppressed} suppressed since {self.window_start}"


class GeneratedReport(models.Model):
    """A report (PDF) rendered in the background for one user; the file is a content-addressed blob."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Rendering"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=50)
    title = models.CharField(max_length=200)
    params = models.JSONField(default=dict)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    finished_at = models.DateTimeField(null=True, blank=True)
    filename = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"


class UserSession(models.Model):
    """One browser session of a user, kept so that it can be listed and ended (``ismsapp.services.sessions``).

    Only the SHA-256 of the session key is stored. A session without a live row is refused by
    ``SessionLifetimeMiddleware``: ending a row ends the session at its next request.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="browser_sessions")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        indexes = [models.Index(fields=["user", "ended_at"])]

    def __str__(self) -> str:
        return f"session of {self.user.username} from {self.ip_address or 'unknown address'}"


class ApiToken(models.Model):
    """A named API key of one user (``ismsapp.services.tokens``): only the SHA-256 of the key is kept.

    Used as ``Authorization: Token <key>``; refused once expired or revoked, or when its user is
    inactive. Revoked tokens stay for the record.
    """

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    revoke_reason = models.CharField(max_length=100, blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
