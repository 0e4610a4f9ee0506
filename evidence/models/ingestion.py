"""Ingestion jobs: one per received file or push, split into chunks processed by Celery tasks."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from evidence.models.sources import EvidenceSource
from ismsapp.querysets import ScopedQuerySet


class IngestionJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Receiver(models.TextChoices):
        UPLOAD = "upload", "Browser upload"
        COMMAND = "command", "ingest command"
        PUSH = "push", "HTTP push"
        SYSLOG = "syslog", "Syslog receiver"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.ForeignKey(EvidenceSource, on_delete=models.PROTECT, related_name="jobs")
    receiver = models.CharField(max_length=10, choices=Receiver.choices)
    format = models.CharField(max_length=20)
    filename = models.CharField(max_length=255, blank=True)
    blob_sha256 = models.CharField(max_length=64)  # the raw bytes, content-addressed (ismsapp.blobs)
    size = models.PositiveBigIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When the input was last written (a file's modification time, an upload's lastModified), if
    # known: the year that RFC 3164 timestamps leave out is inferred relative to it rather than to
    # ``created_at``.
    written_at = models.DateTimeField(null=True, blank=True)
    # The years of year-less timestamps, decided across the whole file (evidence.parsers.years)
    year_plan = models.JSONField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    chunks_total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.source} {self.filename or self.receiver} ({self.get_status_display()})"


class IngestionChunk(models.Model):
    """A byte range of a job's input, parsed and written in one transaction. Its events form one
    batch of the source's hash chain (a Merkle tree over their hashes)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(IngestionJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    start_offset = models.PositiveBigIntegerField()
    end_offset = models.PositiveBigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    records_read = models.PositiveIntegerField(default=0)
    records_with_events = models.PositiveIntegerField(default=0)
    records_empty = models.PositiveIntegerField(default=0)  # blank lines and the like: no event, no error
    events_stored = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    rejected_by_reason = models.JSONField(default=dict)
    attempts = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="chunk_unique_index")]

    def __str__(self) -> str:
        return f"chunk {self.index} of {self.job_id}"


class RejectedRecord(models.Model):
    """An input record that produced no event, kept with its reason and raw bytes (capped)."""

    RAW_CAP = 4096

    chunk = models.ForeignKey(IngestionChunk, on_delete=models.CASCADE, related_name="rejections")
    offset = models.PositiveBigIntegerField()
    length = models.PositiveBigIntegerField()
    line = models.PositiveIntegerField(default=0)
    reason = models.CharField(max_length=40)
    detail = models.CharField(max_length=500, blank=True)
    raw = models.BinaryField()

    class Meta:
        ordering = ["chunk", "offset"]

    def __str__(self) -> str:
        return f"{self.reason} at byte {self.offset}"
