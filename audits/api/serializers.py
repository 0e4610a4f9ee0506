"""API representations of the audit programme, audits, checklists and nonconformities. Requirements
are written ``edition:reference`` (``2022:5.15``), people by username."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audits.models import (
    Audit,
    AuditProgramme,
    AuditReport,
    ChecklistItem,
    CorrectiveAction,
    EffectivenessVerification,
    ImpartialityOverride,
    Nonconformity,
)
from controls.models import Clause
from ismsapp.identity import IdentityFieldsSerializer
from risks.api.serializers import ControlRefField, UsernameField


@extend_schema_field(OpenApiTypes.STR)
class ClauseRefField(serializers.RelatedField):
    """A clause written ``edition:reference``, e.g. ``2022:9.2``."""

    queryset = Clause.objects.all()

    def to_representation(self, value: Clause) -> str:
        return f"{value.edition}:{value.ref}"

    def to_internal_value(self, data: Any) -> Clause:
        edition, _, ref = str(data).partition(":")
        clause = Clause.objects.filter(edition=edition, ref=ref, is_heading=False).first()
        if clause is None:
            raise serializers.ValidationError(f"No clause {data!r} (write edition:reference, e.g. 2022:9.2).")
        return clause


class ProgrammeSerializer(serializers.ModelSerializer):
    owner = UsernameField()

    class Meta:
        model = AuditProgramme
        fields = ["id", "title", "edition", "period_start", "period_end", "objectives", "methods", "owner"]


class OverrideSerializer(serializers.ModelSerializer):
    auditor = UsernameField(read_only=True, queryset=None)
    granted_by = UsernameField(read_only=True, queryset=None)
    control = ControlRefField(read_only=True, queryset=None)
    clause = ClauseRefField(read_only=True, queryset=None)

    class Meta:
        model = ImpartialityOverride
        fields = ["auditor", "control", "clause", "conflict", "justification", "granted_by", "granted_at"]
        read_only_fields = fields


class AuditReportSerializer(serializers.ModelSerializer):
    finalised_by = UsernameField(read_only=True, queryset=None)

    class Meta:
        model = AuditReport
        fields = ["id", "audit", "sha256", "size", "filename", "finalised_by", "finalised_at"]
        read_only_fields = fields


class AuditSerializer(serializers.ModelSerializer):
    programme = serializers.PrimaryKeyRelatedField(queryset=AuditProgramme.objects.all())
    controls = ControlRefField(many=True, required=False)
    clauses = ClauseRefField(many=True, required=False)
    lead_auditor = UsernameField()
    team = UsernameField(many=True, required=False)
    override_justification = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=5_000, help_text="Compliance officers only."
    )
    impartiality_overrides = OverrideSerializer(many=True, read_only=True)
    final_report = serializers.SerializerMethodField(help_text="The finalised report (null while a draft).")

    class Meta:
        model = Audit
        fields = [
            "id",
            "programme",
            "title",
            "audit_type",
            "controls",
            "clauses",
            "processes",
            "sites",
            "criteria",
            "planned_start",
            "planned_end",
            "actual_start",
            "actual_end",
            "lead_auditor",
            "team",
            "status",
            "override_justification",
            "impartiality_overrides",
            "final_report",
        ]
        read_only_fields = ["actual_start", "actual_end", "status"]

    @extend_schema_field(AuditReportSerializer(allow_null=True))
    def get_final_report(self, audit: Audit) -> dict[str, Any] | None:
        report = getattr(audit, "final_report", None)
        return AuditReportSerializer(report).data if report is not None else None


class AssignAuditorsSerializer(serializers.Serializer):
    lead_auditor = UsernameField()
    team = UsernameField(many=True, required=False)
    override_justification = serializers.CharField(required=False, allow_blank=True, max_length=5_000)


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Audit.Status.choices)
    on = serializers.DateField(required=False, help_text="Start or end date of the fieldwork; today if absent.")


class FinaliseSerializer(IdentityFieldsSerializer):
    """Finalising needs "confirm it's you": a token client sends its password (and code)."""


class ChecklistItemSerializer(serializers.ModelSerializer):
    control = ControlRefField(read_only=True, queryset=None)
    clause = ClauseRefField(read_only=True, queryset=None)
    updated_by = UsernameField(read_only=True, queryset=None)
    row_version = serializers.IntegerField(min_value=0, help_text="The version you edited; a stale one gets 409.")

    class Meta:
        model = ChecklistItem
        fields = [
            "id",
            "audit",
            "control",
            "clause",
            "question",
            "result",
            "notes",
            "sample_description",
            "sample_size",
            "row_version",
            "updated_by",
            "updated_at",
        ]
        read_only_fields = ["audit", "updated_at"]


class NonconformitySerializer(serializers.ModelSerializer):
    control = ControlRefField(required=False, allow_null=True)
    clause = ClauseRefField(required=False, allow_null=True)
    checklist_item = serializers.PrimaryKeyRelatedField(
        queryset=ChecklistItem.objects.all(), required=False, allow_null=True
    )
    raised_by = UsernameField(read_only=True, queryset=None)
    closed_by = UsernameField(read_only=True, queryset=None)
    severity = serializers.ChoiceField(choices=Nonconformity.Severity.choices, required=False)
    raised_on = serializers.DateField(required=False)

    class Meta:
        model = Nonconformity
        fields = [
            "id",
            "reference",
            "severity",
            "source",
            "origin",
            "audit",
            "checklist_item",
            "control",
            "clause",
            "statement",
            "evidence",
            "correction",
            "root_cause",
            "status",
            "raised_on",
            "raised_by",
            "closed_on",
            "closed_by",
        ]
        read_only_fields = ["reference", "source", "audit", "status", "closed_on"]


class CorrectiveActionSerializer(serializers.ModelSerializer):
    owner = UsernameField()
    nonconformity = serializers.PrimaryKeyRelatedField(queryset=Nonconformity.objects.all())

    class Meta:
        model = CorrectiveAction
        fields = [
            "id",
            "nonconformity",
            "description",
            "owner",
            "due_date",
            "status",
            "progress_note",
            "completed_on",
            "reopen_reason",
        ]
        read_only_fields = ["status", "progress_note", "completed_on", "reopen_reason"]


class ProgressSerializer(serializers.Serializer):
    progress_note = serializers.CharField(required=False, default="", allow_blank=True, max_length=5_000)


class CompleteSerializer(serializers.Serializer):
    completed_on = serializers.DateField(required=False)
    progress_note = serializers.CharField(required=False, allow_blank=True, max_length=5_000)


class VerificationSerializer(serializers.ModelSerializer):
    verifier = UsernameField(read_only=True, queryset=None)

    class Meta:
        model = EffectivenessVerification
        fields = ["id", "nonconformity", "verifier", "verified_on", "method", "result", "reason", "recorded_at"]
        read_only_fields = fields


class VerifyRequestSerializer(serializers.Serializer):
    method = serializers.CharField(max_length=5_000)
    result = serializers.ChoiceField(choices=EffectivenessVerification.Result.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5_000)
    verified_on = serializers.DateField(required=False)


class CloseRequestSerializer(serializers.Serializer):
    closed_on = serializers.DateField(required=False)
