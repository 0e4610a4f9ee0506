"""Normalised events, the hash chain over their batches, signed checkpoints, and per-rule counts."""

from __future__ import annotations

from django.db import models

from evidence.models.ingestion import IngestionChunk, IngestionJob
from evidence.models.sources import EvidenceSource
from ismsapp.querysets import ScopedQuerySet


class Event(models.Model):
    """One normalised event. Written in bulk (PostgreSQL COPY), never updated.

    ``dedup_key`` = SHA-256 of the raw record (and the event's index in it) per source: the same
    record received twice is stored once (identical records within one chunk are numbered apart).
    ``leaf_hash`` = SHA-256 of the event's canonical content; the leaves of a batch (``chunk``) form
    a Merkle tree whose root is chained per source.

    Bulk-loaded: the references carry no database constraint triggers (their ids come from the
    chunk row locked by the writer, and sources, jobs and chunks are never deleted while events
    refer to them: ``PROTECT``), and no single-column index already led by a composite one.
    What proves the rows untouched is the hash chain, not the foreign keys.
    """

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(
        EvidenceSource, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    job = models.ForeignKey(IngestionJob, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    chunk = models.ForeignKey(
        IngestionChunk, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    position = models.PositiveIntegerField()
    dedup_key = models.BinaryField(max_length=32)
    leaf_hash = models.BinaryField(max_length=32)
    time = models.DateTimeField(null=True)
    received_at = models.DateTimeField()
    host = models.CharField(max_length=255, blank=True)
    program = models.CharField(max_length=255, blank=True)
    pid = models.BigIntegerField(null=True)
    user = models.CharField(max_length=255, blank=True)
    target_user = models.CharField(max_length=255, blank=True)
    source_ip = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=20)
    outcome = models.CharField(max_length=10)
    session_id = models.CharField(max_length=255, blank=True)
    command = models.TextField(blank=True)
    message = models.TextField(blank=True)
    extra = models.JSONField(default=dict)
    raw_offset = models.PositiveBigIntegerField()
    raw_length = models.PositiveBigIntegerField()

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["source", "dedup_key"], name="event_unique_per_source")]
        indexes = [
            models.Index(fields=["source", "time"]),
            models.Index(fields=["chunk", "position"]),
            models.Index(fields=["action", "time"]),
            models.Index(fields=["user"]),
        ]

    def __str__(self) -> str:
        return f"{self.time} {self.host} {self.action} {self.user}"

    @property
    def peer(self) -> str:
        """The client's address, or the host name a daemon logged instead (``extra["source_host"]``)."""
        host = self.extra.get("source_host", "") if isinstance(self.extra, dict) else ""
        return self.source_ip or (host if isinstance(host, str) else "")


class ChainLink(models.Model):
    """One batch in a source's hash chain: ``link_hash = SHA-256(prev_hash | seq | count | root)``."""

    source = models.ForeignKey(EvidenceSource, on_delete=models.PROTECT, related_name="links")
    seq = models.PositiveBigIntegerField()
    chunk = models.OneToOneField(IngestionChunk, on_delete=models.PROTECT, related_name="link")
    count = models.PositiveIntegerField()
    merkle_root = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    link_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source", "seq"]
        constraints = [models.UniqueConstraint(fields=["source", "seq"], name="chainlink_unique_seq")]

    def __str__(self) -> str:
        return f"{self.source_id}#{self.seq}"


class Checkpoint(models.Model):
    """An Ed25519 signature over a source's chain head, by a key that never sits in the database."""

    source = models.ForeignKey(EvidenceSource, on_delete=models.PROTECT, related_name="checkpoints")
    seq = models.PositiveBigIntegerField()
    link_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField(auto_now_add=True)
    signature = models.CharField(max_length=128)  # hex
    key_fingerprint = models.CharField(max_length=64)

    class Meta:
        ordering = ["source", "-seq"]
        constraints = [models.UniqueConstraint(fields=["source", "seq"], name="checkpoint_unique_seq")]

    def __str__(self) -> str:
        return f"checkpoint {self.source_id}#{self.seq}"


class ControlEventCount(models.Model):
    """How many distinct events of a source were evidence for a control on a day, and the latest
    one: the SoA's machine-evidence figures, without scanning events. An event that several rules
    map to the same control (a command typed in a recorded session: commands and session
    recordings, both 8.15) counts once."""

    source = models.ForeignKey(EvidenceSource, on_delete=models.CASCADE, related_name="+")
    edition = models.CharField(max_length=4)
    control = models.CharField(max_length=16)  # the control's reference in that edition
    day = models.DateField()
    events = models.PositiveBigIntegerField(default=0)
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "edition", "control", "day"], name="controleventcount_unique")
        ]
        indexes = [models.Index(fields=["edition", "control", "day"])]

    def __str__(self) -> str:
        return f"{self.source_id} {self.edition} {self.control} {self.day}: {self.events}"
