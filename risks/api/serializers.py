"""API representations of the risk register."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound

from controls.models import Control
from ismsapp.identity import IdentityFieldsSerializer
from ismsapp.models import User
from risks.models import Asset, Risk, RiskAcceptance, RiskMethodology, TreatmentAction
from risks.services.register import ASSET_FIELDS

ACTIVE_USERS = User.objects.filter(is_active=True)


class UsernameField(serializers.SlugRelatedField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", ACTIVE_USERS)
        super().__init__(slug_field="username", **kwargs)


@extend_schema_field(OpenApiTypes.STR)
class ControlRefField(serializers.RelatedField):
    """A control written ``edition:reference``, e.g. ``2022:8.15``."""

    queryset = Control.objects.all()

    def to_representation(self, value: Control) -> str:
        return f"{value.edition}:{value.ref}"

    def to_internal_value(self, data: Any) -> Control:
        edition, _, ref = str(data).partition(":")
        control = Control.objects.filter(edition=edition, ref=ref).first()
        if control is None:
            raise serializers.ValidationError(f"No control {data!r} (write edition:reference, e.g. 2022:8.15).")
        return control


class AssetSerializer(serializers.ModelSerializer):
    owner = UsernameField()

    class Meta:
        model = Asset
        fields = ["id", *ASSET_FIELDS]


class VisibleAssetField(serializers.SlugRelatedField):
    """An asset by its name, among the assets the requesting user may see."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="name", **kwargs)

    def get_queryset(self) -> Any:
        request = self.context.get("request")
        return Asset.objects.for_user(request.user if request else None, "view")


class RiskSerializer(serializers.ModelSerializer):
    owner = UsernameField()
    assets = VisibleAssetField(many=True, required=False)
    controls = ControlRefField(many=True, required=False)
    methodology_version = serializers.IntegerField(source="methodology.version", read_only=True)

    class Meta:
        model = Risk
        fields = [
            "id",
            "reference",
            "title",
            "description",
            "assets",
            "threat",
            "vulnerability",
            "affects_confidentiality",
            "affects_integrity",
            "affects_availability",
            "owner",
            "methodology_version",
            "inherent_likelihood",
            "inherent_impact",
            "inherent_level",
            "treatment_option",
            "controls",
            "residual_likelihood",
            "residual_impact",
            "residual_level",
            "next_review",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "reference",
            "methodology_version",
            "inherent_level",
            "residual_level",
            "created_at",
            "updated_at",
        ]

    def validate_status(self, value: str) -> str:
        current = self.instance.status if self.instance else Risk.Status.IDENTIFIED
        if value not in (current, Risk.Status.CLOSED):
            raise serializers.ValidationError("Only closing a risk is a manual status change.")
        return value


@extend_schema_field(OpenApiTypes.STR)
class VisibleRiskField(serializers.RelatedField):
    """A risk by its reference, among the risks the requesting user may see. A missing risk and
    one the user may not see answer alike (404), so ids cannot be probed."""

    def get_queryset(self) -> Any:
        from risks.services import visible_risks

        request = self.context.get("request")
        return visible_risks(request.user if request else None)

    def to_representation(self, value: Risk) -> str:
        return value.reference

    def to_internal_value(self, data: Any) -> Risk:
        if not isinstance(data, str) or not data.strip():
            raise serializers.ValidationError("Give the risk's reference, e.g. R-0042.")
        risk = self.get_queryset().filter(reference=data.strip()[:20]).first()
        if risk is None:
            raise NotFound("No such risk.")
        return risk


class TreatmentActionSerializer(serializers.ModelSerializer):
    owner = UsernameField()
    risk = VisibleRiskField()

    class Meta:
        model = TreatmentAction
        fields = ["id", "risk", "description", "owner", "due_date", "status", "progress_note"]


class AcceptanceSerializer(serializers.ModelSerializer):
    risk = serializers.CharField(source="risk.reference", read_only=True)
    accepted_by = serializers.CharField(source="accepted_by.username", read_only=True)
    second_approver = serializers.CharField(
        source="second_approver.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = RiskAcceptance
        fields = [
            "id",
            "risk",
            "accepted_by",
            "accepted_at",
            "justification",
            "expires_on",
            "residual_level",
            "needs_second_approval",
            "second_approver",
            "second_approved_at",
            "status",
            "ended_at",
            "end_reason",
            "snapshot",
            "snapshot_sha256",
        ]
        read_only_fields = fields


class AcceptRequestSerializer(serializers.Serializer):
    password = serializers.CharField(write_only=True, trim_whitespace=False)
    otp_code = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=20, default="")
    justification = serializers.CharField(max_length=5000)
    expires_on = serializers.DateField(required=False)


class ApprovalRequestSerializer(IdentityFieldsSerializer):
    approve = serializers.BooleanField()
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RevokeRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class MethodologySerializer(serializers.ModelSerializer):
    class Meta:
        model = RiskMethodology
        fields = [
            "id",
            "version",
            "name",
            "likelihood_scale",
            "impact_scale",
            "levels",
            "matrix",
            "appetite",
            "default_acceptance_months",
            "max_acceptance_months",
            "reminder_days",
            "is_current",
            "created_at",
        ]
        read_only_fields = ["id", "version", "is_current", "created_at"]
