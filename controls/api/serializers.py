"""API representations of the catalogue and the SoA."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from controls.models import Control, Edition, ImplementationStatus, InclusionReason, SoAEntry, SoAVersion
from ismsapp.identity import IdentityFieldsSerializer
from ismsapp.models import User


class ControlSerializer(serializers.ModelSerializer):
    section = serializers.CharField(source="section.ref")
    section_title = serializers.CharField(source="section.title")
    objective = serializers.CharField(source="objective.ref", default=None, allow_null=True)  # none in 2022
    attributes = serializers.SerializerMethodField()

    class Meta:
        model = Control
        fields = ["id", "edition", "ref", "title", "section", "section_title", "objective", "is_new", "attributes"]
        read_only_fields = fields

    def get_attributes(self, control: Control) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for attribute in control.attributes.all():
            result.setdefault(attribute.kind, []).append(attribute.value)
        return result


class SoAEntrySerializer(serializers.ModelSerializer):
    """A control's SoA row. Updates must send the ``row_version`` they were based on (409 otherwise)."""

    control = serializers.CharField(source="control.ref", read_only=True)
    edition = serializers.CharField(source="control.edition", read_only=True)
    title = serializers.CharField(source="control.title", read_only=True)
    owner = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        allow_null=True,
        required=False,
        error_messages={"does_not_exist": "The owner must be an active user ({value} is not)."},
    )
    inclusion_reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=InclusionReason.choices), required=False
    )
    implementation_status = serializers.ChoiceField(choices=ImplementationStatus.choices, required=False)
    row_version = serializers.IntegerField(min_value=0)

    class Meta:
        model = SoAEntry
        fields = [
            "id",
            "edition",
            "control",
            "title",
            "applicable",
            "inclusion_reasons",
            "justification",
            "implementation_status",
            "owner",
            "implementation_notes",
            "last_reviewed",
            "review_needed",
            "review_note",
            "row_version",
            "updated_at",
        ]
        read_only_fields = ["id", "edition", "control", "title", "review_needed", "review_note", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "row_version" not in attrs:
            raise serializers.ValidationError({"row_version": "Send the row_version you edited (optimistic locking)."})
        instance: SoAEntry | None = self.instance
        applicable = attrs.get("applicable", instance.applicable if instance else True)
        justification = attrs.get("justification", instance.justification if instance else "")
        if not applicable and not (justification or "").strip():
            raise serializers.ValidationError(
                {"justification": "A written justification is required to exclude a control."}
            )
        return attrs


class EditConflictSerializer(serializers.Serializer):
    """409 on a stale ``row_version``: why, and the row as it is now."""

    detail = serializers.CharField()
    current = SoAEntrySerializer()


class SoAVersionSerializer(serializers.ModelSerializer):
    approver = serializers.CharField(source="approver.username")
    published_by = serializers.CharField(source="published_by.username")

    class Meta:
        model = SoAVersion
        fields = [
            "id",
            "edition",
            "number",
            "approver",
            "approved_on",
            "published_by",
            "published_at",
            "note",
            "snapshot_sha256",
        ]
        read_only_fields = fields


class SoAVersionDetailSerializer(SoAVersionSerializer):
    class Meta(SoAVersionSerializer.Meta):
        fields = [*SoAVersionSerializer.Meta.fields, "snapshot"]
        read_only_fields = fields


class PublishSerializer(IdentityFieldsSerializer):
    edition = serializers.ChoiceField(choices=Edition.choices)
    approver = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        error_messages={
            "does_not_exist": "The approver must be an active user ({value} is not).",
            "null": "An approver is required to publish a version.",
        },
    )
    approved_on = serializers.DateField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class ConfirmReviewSerializer(serializers.Serializer):
    row_version = serializers.IntegerField(min_value=0, help_text="The row_version the reviewer saw.")


class DiffQuerySerializer(serializers.Serializer):
    edition = serializers.ChoiceField(choices=Edition.choices)
    from_version = serializers.CharField(help_text="Version number or 'draft'")
    to_version = serializers.CharField(help_text="Version number or 'draft'", default="draft")


class RowChangeSerializer(serializers.Serializer):
    kind = serializers.CharField()
    ref = serializers.CharField()
    title = serializers.CharField()
    changes = serializers.DictField(child=serializers.ListField())
