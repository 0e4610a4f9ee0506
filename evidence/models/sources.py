"""Evidence sources: where machine evidence comes from, how often it must arrive, its push token."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from ismsapp.querysets import ScopedQuerySet

GENESIS = "0" * 64


def delivered_within_cadence(last_event_at: datetime | None, cadence_minutes: int, now: datetime) -> bool:
    """The one freshness rule: a source is fresh if its newest event is no older than its cadence."""
    return last_event_at is not None and now - last_event_at <= timedelta(minutes=cadence_minutes)


class EvidenceSource(models.Model):
    class Kind(models.TextChoices):
        LINUX_HOST = "linux_host", "Linux host (syslog, journald, auditd)"
        WINDOWS_HOST = "windows_host", "Windows host (event logs)"
        BASTION = "bastion", "Bastion / privileged access (session recordings)"
        NETWORK = "network", "Network or security device (syslog, CEF)"
        APPLICATION = "application", "Application"
        OTHER = "other", "Other"

    name = models.CharField(
        max_length=80,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9][A-Za-z0-9._-]*$", "Use letters, digits, dot, dash and underscore (no spaces)."
            )
        ],
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.LINUX_HOST)
    default_format = models.CharField(max_length=20, default="syslog")
    hosts = models.CharField(max_length=500, blank=True, help_text="Host names, comma-separated.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    cadence_minutes = models.PositiveIntegerField(
        default=1440, help_text="Evidence must arrive at least this often (minutes) to count as fresh."
    )
    supplier_accounts = models.CharField(
        max_length=1000, blank=True, help_text="Accounts used by suppliers, comma-separated (control 5.22 / A.15.2.1)."
    )
    token_prefix = models.CharField(max_length=12, blank=True, db_index=True)
    token_hash = models.CharField(max_length=64, blank=True)
    # head of the source's hash chain of batches (see evidence.integrity)
    chain_seq = models.PositiveBigIntegerField(default=0)
    chain_hash = models.CharField(max_length=64, default=GENESIS)
    last_event_at = models.DateTimeField(null=True, blank=True)
    # messages that reached a receiver of this source and were never stored (UDP drops, kernel included)
    messages_lost = models.PositiveBigIntegerField(default=0)
    last_loss_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def is_fresh(self, now: datetime) -> bool:
        return delivered_within_cadence(self.last_event_at, self.cadence_minutes, now)

    @property
    def supplier_account_list(self) -> list[str]:
        return [account.strip() for account in self.supplier_accounts.split(",") if account.strip()]

    @staticmethod
    def new_token() -> tuple[str, str, str]:
        """(token shown once, its prefix, its SHA-256 kept in the database)."""
        token = "isms_" + secrets.token_urlsafe(32)
        return token, token[:12], hashlib.sha256(token.encode()).hexdigest()

    def token_matches(self, token: str) -> bool:
        return bool(self.token_hash) and secrets.compare_digest(
            hashlib.sha256(token.encode()).hexdigest(), self.token_hash
        )
