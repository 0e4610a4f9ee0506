"""API representations of machine evidence."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from evidence.formats import FORMATS
from evidence.models import Event, EvidenceSource, IngestionJob, SessionRecording
from evidence.parsers.base import DESCRIPTIVE_FIELDS
from ismsapp.models import User


class SourceSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True))
    default_format = serializers.ChoiceField(choices=sorted(FORMATS))

    class Meta:
        model = EvidenceSource
        fields = [
            "id",
            "name",
            "kind",
            "default_format",
            "hosts",
            "owner",
            "cadence_minutes",
            "supplier_accounts",
            "token_prefix",
            "chain_seq",
            "chain_hash",
            "last_event_at",
            "messages_lost",
            "last_loss_at",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "token_prefix",
            "chain_seq",
            "chain_hash",
            "last_event_at",
            "messages_lost",
            "last_loss_at",
            "created_at",
        ]


class PushAcceptedSerializer(serializers.Serializer):
    """202 to an HTTP push: the ingestion job created, where to follow it, and its status."""

    job = serializers.UUIDField()
    url = serializers.CharField()
    status = serializers.CharField()


class JobSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="source.name", read_only=True)
    summary = serializers.SerializerMethodField()

    class Meta:
        model = IngestionJob
        fields = [
            "id",
            "source",
            "receiver",
            "format",
            "filename",
            "blob_sha256",
            "size",
            "status",
            "created_at",
            "finished_at",
            "error",
            "summary",
        ]
        read_only_fields = fields

    def get_summary(self, job: IngestionJob) -> dict[str, Any]:
        from evidence.ingestion import job_summary

        return job_summary(job)


class EventSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="source.name", read_only=True)
    leaf_sha256 = serializers.SerializerMethodField()
    count = serializers.IntegerField(
        read_only=True, help_text='Occurrences the line stands for ("message repeated N times: [...]" counts N).'
    )
    same_attempt_of = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="Id of the event recording the same authentication attempt first; this one is not counted again.",
    )

    class Meta:
        model = Event
        fields = [
            "id", "time", "received_at", "source", *DESCRIPTIVE_FIELDS, "extra", "job", "raw_offset", "raw_length",
            "leaf_sha256", "count", "same_attempt_of",
        ]  # fmt: skip
        read_only_fields = fields

    def get_leaf_sha256(self, event: Event) -> str:
        return bytes(event.leaf_hash).hex()


class SessionSerializer(serializers.ModelSerializer):
    source = serializers.CharField(source="source.name", read_only=True)

    class Meta:
        model = SessionRecording
        fields = [
            "id",
            "source",
            "format",
            "session_id",
            "user",
            "host",
            "title",
            "started_at",
            "ended_at",
            "duration_seconds",
            "sha256",
            "commands",
            "warnings",
        ]
        read_only_fields = fields
