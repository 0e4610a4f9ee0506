"""Privileged-session recordings, normalised to asciicast v2 for playback in the browser."""

from __future__ import annotations

from django.db import models

from evidence.models.ingestion import IngestionJob
from evidence.models.sources import EvidenceSource
from ismsapp.querysets import ScopedQuerySet


class SessionRecording(models.Model):
    source = models.ForeignKey(EvidenceSource, on_delete=models.PROTECT, related_name="recordings")
    job = models.ForeignKey(IngestionJob, on_delete=models.PROTECT, related_name="recordings")
    format = models.CharField(max_length=20)
    session_id = models.CharField(max_length=255)
    user = models.CharField(max_length=255, blank=True)
    host = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, db_index=True)
    ended_at = models.DateTimeField(null=True)
    duration_seconds = models.FloatField(default=0)
    sha256 = models.CharField(max_length=64)  # of the recording as received
    playback_sha256 = models.CharField(max_length=64)  # blob: the asciicast v2 rendition (hidden input masked)
    commands = models.JSONField(default=list)  # [{"at": seconds, "text": "..."}]
    command_text = models.TextField(blank=True)  # one command per line, for search
    warnings = models.JSONField(default=list)

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["source", "session_id", "sha256"], name="recording_unique")]

    def __str__(self) -> str:
        return f"{self.user}@{self.host} {self.started_at:%Y-%m-%d %H:%M}" if self.started_at else self.session_id
