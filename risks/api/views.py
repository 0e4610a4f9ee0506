"""API of the risk register: assets, risks (with ``accept``), treatment actions, acceptances
(``approve``, ``revoke``) and methodology versions."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from ismsapp import identity
from ismsapp.api.schema import ErrorSerializer
from ismsapp.audit import record_event
from ismsapp.models import AuditEntry
from ismsapp.permissions import ScopedViewSetMixin
from risks import services
from risks.api.serializers import (
    AcceptanceSerializer,
    AcceptRequestSerializer,
    ApprovalRequestSerializer,
    AssetSerializer,
    MethodologySerializer,
    RevokeRequestSerializer,
    RiskSerializer,
    TreatmentActionSerializer,
)
from risks.models import Asset, Risk, RiskAcceptance, RiskMethodology, TreatmentAction


def as_api_errors(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})


class ServiceErrorsMixin:
    """Turn the services' Django errors into DRF answers (400 naming the field, 403)."""

    def call(self, function: Any, **kwargs: Any) -> Any:
        try:
            return function(**kwargs)
        except DjangoValidationError as exc:
            raise as_api_errors(exc) from exc
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc


class AssetViewSet(
    ScopedViewSetMixin,
    ServiceErrorsMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    queryset = Asset.objects.select_related("owner").order_by("name")
    serializer_class = AssetSerializer
    model_permission_required = True

    def perform_create(self, serializer: AssetSerializer) -> None:
        serializer.instance = self.call(services.save_asset, actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: AssetSerializer) -> None:
        serializer.instance = self.call(
            services.save_asset, actor=self.request.user, asset=serializer.instance, **serializer.validated_data
        )


class RiskViewSet(
    ScopedViewSetMixin,
    ServiceErrorsMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Risks visible to the user (risk owners: their own). ``accept`` is the owner's decision."""

    queryset = (
        Risk.objects.select_related("owner", "methodology").prefetch_related("assets", "controls").order_by("reference")
    )
    serializer_class = RiskSerializer

    def perform_create(self, serializer: RiskSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("status", None)
        serializer.instance = self.call(
            services.create_risk,
            actor=self.request.user,
            assets=data.pop("assets", []),
            controls=data.pop("controls", []),
            **data,
        )

    def perform_update(self, serializer: RiskSerializer) -> None:
        data = dict(serializer.validated_data)
        serializer.instance = self.call(
            services.update_risk,
            actor=self.request.user,
            risk=serializer.instance,
            assets=data.pop("assets", None),
            controls=data.pop("controls", None),
            **data,
        )

    @extend_schema(request=AcceptRequestSerializer, responses={201: AcceptanceSerializer})
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str | None = None) -> Response:
        risk = services.visible_risks(request.user).filter(pk=pk).first()
        if risk is None:  # a guessed id: refused without revealing whether it exists, and logged
            record_event(
                AuditEntry.Action.ACCESS_DENIED,
                request=request._request,
                detail={
                    "event": "residual risk acceptance refused",
                    "reason": "risk not visible",
                    "risk_id": str(pk)[:20],
                },
            )
            raise NotFound("No such risk.")
        self.call(services.ensure_owner, actor=request.user, risk=risk, request=request._request)
        body = AcceptRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            acceptance = self.call(
                services.accept_residual_risk,
                actor=request.user,
                risk=risk,
                request=request,  # the DRF request: axes answers a lockout itself for a plain one
                **body.validated_data,
            )
        except identity.IdentityLockedOut as exc:
            raise identity.IdentityLockedOutError() from exc
        return Response(AcceptanceSerializer(acceptance).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    create=extend_schema(
        responses={
            201: TreatmentActionSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such risk, or not one you can see."),
        }
    )
)
class TreatmentActionViewSet(
    ScopedViewSetMixin,
    ServiceErrorsMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Actions follow their risk: visible with it. The services decide who changes what: the
    register's managers plan them, the risk's owner reports their progress (status, note)."""

    queryset = TreatmentAction.objects.select_related("risk", "owner").order_by("due_date", "pk")
    serializer_class = TreatmentActionSerializer
    permission_classes = [IsAuthenticated]

    def perform_create(self, serializer: TreatmentActionSerializer) -> None:
        data = dict(serializer.validated_data)
        risk = data.pop("risk")
        serializer.instance = self.call(services.save_action, actor=self.request.user, risk=risk, **data)

    def perform_update(self, serializer: TreatmentActionSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("risk", None)  # an action stays with its risk
        serializer.instance = self.call(
            services.save_action,
            actor=self.request.user,
            risk=serializer.instance.risk,
            action=serializer.instance,
            **data,
        )

    def get_queryset(self) -> QuerySet:
        return services.visible_actions(self.request.user).select_related("risk", "owner").order_by("due_date", "pk")

    def check_object_permissions(self, request: Request, obj: TreatmentAction) -> None:
        return None  # visibility is get_queryset's; the services check who may change what


class AcceptanceViewSet(ScopedViewSetMixin, ServiceErrorsMixin, viewsets.ReadOnlyModelViewSet):
    """The full history of residual-risk acceptances; ``approve`` (second approval) and ``revoke``."""

    queryset = RiskAcceptance.objects.select_related("risk", "accepted_by", "second_approver")
    serializer_class = AcceptanceSerializer
    action_permissions = {"approve": "approve_riskacceptance"}

    def get_queryset(self) -> QuerySet:
        return services.visible_acceptances(self.request.user).select_related("risk", "accepted_by", "second_approver")

    def check_object_permissions(self, request: Request, obj: RiskAcceptance) -> None:
        return None  # visibility is get_queryset's; the services check who may decide

    @extend_schema(request=ApprovalRequestSerializer, responses={200: AcceptanceSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()
        body = ApprovalRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        identity.require_identity_for_api(request)
        acceptance = self.call(
            services.decide_second_approval,
            actor=request.user,
            acceptance=target,
            **identity.without_identity_fields(body.validated_data),
        )
        return Response(AcceptanceSerializer(acceptance).data)

    @extend_schema(request=RevokeRequestSerializer, responses={200: AcceptanceSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        target = self.get_object()
        body = RevokeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        acceptance = self.call(services.revoke_acceptance, actor=request.user, acceptance=target, **body.validated_data)
        return Response(AcceptanceSerializer(acceptance).data)


class MethodologyViewSet(
    ScopedViewSetMixin, ServiceErrorsMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Methodology versions; creating one makes it current (risks keep the version they used)."""

    queryset = RiskMethodology.objects.order_by("-version")
    serializer_class = MethodologySerializer
    model_permission_required = True

    def perform_create(self, serializer: MethodologySerializer) -> None:
        serializer.instance = self.call(
            services.create_methodology_version, actor=self.request.user, **serializer.validated_data
        )
