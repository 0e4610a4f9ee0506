"""API of the audits app: declarations and calls to ``audits.services``. Visibility comes from
``for_user`` (get_queryset); who may change what is decided by the services (400 naming the
field, 403, 409 for an edit conflict)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from audits import services
from audits.api import serializers as s
from audits.models import (
    Audit,
    AuditProgramme,
    ChecklistItem,
    CorrectiveAction,
    EffectivenessVerification,
    Nonconformity,
)
from audits.services import rules
from controls.services import EditConflict
from ismsapp.identity import require_identity_for_api
from ismsapp.permissions import ScopedViewSetMixin
from risks.api.views import ServiceErrorsMixin


class ServicesDecideMixin(ScopedViewSetMixin, ServiceErrorsMixin):
    """Objects are visible through ``for_user``; the services refuse what the user may not do."""

    def check_object_permissions(self, request: Request, obj: Any) -> None:
        return None


class ProgrammeViewSet(
    ServicesDecideMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    queryset = AuditProgramme.objects.select_related("owner").order_by("-period_start", "pk")
    serializer_class = s.ProgrammeSerializer
    model_permission_required = True
    action_permissions = {"partial_update": "view", "update": "view"}

    def perform_create(self, serializer: s.ProgrammeSerializer) -> None:
        serializer.instance = self.call(services.create_programme, actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: s.ProgrammeSerializer) -> None:
        serializer.instance = self.call(
            services.update_programme,
            actor=self.request.user,
            programme=serializer.instance,
            **serializer.validated_data,
        )


class AuditViewSet(
    ServicesDecideMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Audits; ``status`` moves the workflow, ``assign_auditors`` checks impartiality."""

    queryset = (
        Audit.objects.select_related("programme", "lead_auditor", "final_report__finalised_by")
        .prefetch_related("controls", "clauses", "team", "impartiality_overrides__auditor")
        .order_by("planned_start", "pk")
    )
    serializer_class = s.AuditSerializer
    model_permission_required = True
    action_permissions = {
        "partial_update": "view",
        "update": "view",
        "status": "view",
        "generate_checklist": "view",
        "assign_auditors": "view",
        "finalise": "view",
    }

    def perform_create(self, serializer: s.AuditSerializer) -> None:
        data = dict(serializer.validated_data)
        programme = data.pop("programme")
        if not AuditProgramme.objects.for_user(self.request.user).filter(pk=programme.pk).exists():
            raise NotFound("No such programme.")
        serializer.instance = self.call(services.create_audit, actor=self.request.user, programme=programme, **data)

    def perform_update(self, serializer: s.AuditSerializer) -> None:
        data = dict(serializer.validated_data)
        for fixed in ("programme", "lead_auditor", "team"):
            data.pop(fixed, None)  # auditors change through assign_auditors
        serializer.instance = self.call(
            services.update_audit, actor=self.request.user, audit=serializer.instance, **data
        )

    @extend_schema(request=s.StatusChangeSerializer, responses={200: s.AuditSerializer})
    @action(detail=True, methods=["post"])
    def status(self, request: Request, pk: str | None = None) -> Response:
        audit = self.get_object()
        self.call(rules.require_audit_manager, user=request.user, audit=audit)
        body = s.StatusChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        audit = self.call(services.change_audit_status, actor=request.user, audit=audit, **body.validated_data)
        return Response(s.AuditSerializer(audit).data)

    @extend_schema(request=s.AssignAuditorsSerializer, responses={200: s.AuditSerializer})
    @action(detail=True, methods=["post"], url_path="assign-auditors")
    def assign_auditors(self, request: Request, pk: str | None = None) -> Response:
        audit = self.get_object()
        self.call(rules.require, user=request.user, perm="audits.change_audit", doing="assign auditors")
        body = s.AssignAuditorsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        audit = self.call(services.assign_auditors, actor=request.user, audit=audit, **body.validated_data)
        return Response(s.AuditSerializer(audit).data)

    @extend_schema(
        request=s.FinaliseSerializer,
        responses={201: s.AuditReportSerializer, 400: OpenApiTypes.OBJECT, 429: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["post"])
    def finalise(self, request: Request, pk: str | None = None) -> Response:
        """Finalise the audit's report: rendered once, frozen, its SHA-256 kept (confirm it's you)."""
        audit = self.get_object()
        if not rules.can_manage_audit(request.user, audit):
            raise PermissionDenied("Only a compliance officer or the lead auditor may finalise the report.")
        require_identity_for_api(request)
        s.FinaliseSerializer(data=request.data).is_valid(raise_exception=True)
        report = self.call(services.finalise_audit_report, actor=request.user, audit=audit)
        return Response(s.AuditReportSerializer(report).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.ChecklistItemSerializer(many=True)})
    @action(detail=True, methods=["post"], url_path="generate-checklist")
    def generate_checklist(self, request: Request, pk: str | None = None) -> Response:
        audit = self.get_object()
        self.call(services.generate_checklist, actor=request.user, audit=audit)
        return Response(s.ChecklistItemSerializer(audit.checklist.select_related("control", "clause"), many=True).data)


class ChecklistItemViewSet(ServicesDecideMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Checklist items (``?audit=<id>``); PATCH records a result with the ``row_version`` you read."""

    queryset = ChecklistItem.objects.select_related("control", "clause", "updated_by").order_by(
        "audit", "position", "pk"
    )
    serializer_class = s.ChecklistItemSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        audit = self.request.query_params.get("audit", "")
        return queryset.filter(audit_id=int(audit)) if audit.isdigit() else queryset

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        item = self.get_object()
        body = s.ChecklistItemSerializer(item, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        values = {name: getattr(item, name) for name in ("result", "notes", "sample_description", "sample_size")}
        values.update(data)
        expected = values.pop("row_version", None)
        if expected is None:
            return Response({"row_version": ["Send the row_version you edited."]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            saved = self.call(
                services.record_checklist_result, actor=request.user, item=item, expected_version=expected, **values
            )
        except EditConflict as conflict:
            return Response(
                {"detail": str(conflict), "current": s.ChecklistItemSerializer(conflict.current).data},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(s.ChecklistItemSerializer(saved).data)


class NonconformityViewSet(
    ServicesDecideMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Nonconformities visible to the user; ``verify`` (effectiveness) and ``close`` are workflow steps."""

    queryset = Nonconformity.objects.select_related(
        "control", "clause", "audit", "checklist_item", "raised_by", "closed_by"
    ).order_by("-raised_on", "-pk")
    serializer_class = s.NonconformitySerializer
    action_permissions = {"verify": "add_effectivenessverification", "close": "close_nonconformity"}

    def perform_create(self, serializer: s.NonconformitySerializer) -> None:
        data = {key: value for key, value in serializer.validated_data.items() if value is not None}
        item = data.get("checklist_item")
        if item is not None and not ChecklistItem.objects.for_user(self.request.user).filter(pk=item.pk).exists():
            raise NotFound("No such checklist item.")
        serializer.instance = self.call(services.raise_nonconformity, actor=self.request.user, **data)

    def perform_update(self, serializer: s.NonconformitySerializer) -> None:
        data = {k: v for k, v in serializer.validated_data.items() if k in services.findings.ANALYSIS_FIELDS}
        serializer.instance = self.call(
            services.update_nonconformity, actor=self.request.user, nonconformity=serializer.instance, **data
        )

    @extend_schema(request=s.VerifyRequestSerializer, responses={201: s.VerificationSerializer})
    @action(detail=True, methods=["post"])
    def verify(self, request: Request, pk: str | None = None) -> Response:
        nonconformity = self.get_object()
        body = s.VerifyRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        verification = self.call(
            services.verify_effectiveness, actor=request.user, nonconformity=nonconformity, **body.validated_data
        )
        return Response(s.VerificationSerializer(verification).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.CloseRequestSerializer, responses={200: s.NonconformitySerializer})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        nonconformity = self.get_object()
        body = s.CloseRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        closed = self.call(
            services.close_nonconformity, actor=request.user, nonconformity=nonconformity, **body.validated_data
        )
        return Response(s.NonconformitySerializer(closed).data)


class CorrectiveActionViewSet(
    ServicesDecideMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Corrective actions visible to the user (owners: their own); owners post ``progress`` and ``complete``."""

    queryset = CorrectiveAction.objects.select_related("owner", "nonconformity").order_by("due_date", "pk")
    serializer_class = s.CorrectiveActionSerializer

    def perform_create(self, serializer: s.CorrectiveActionSerializer) -> None:
        data = dict(serializer.validated_data)
        nonconformity = data.pop("nonconformity")
        if not Nonconformity.objects.for_user(self.request.user).filter(pk=nonconformity.pk).exists():
            raise NotFound("No such nonconformity.")
        serializer.instance = self.call(
            services.add_corrective_action, actor=self.request.user, nonconformity=nonconformity, **data
        )

    def perform_update(self, serializer: s.CorrectiveActionSerializer) -> None:
        action_ = serializer.instance
        values = {"description": action_.description, "owner": action_.owner, "due_date": action_.due_date}
        values.update({k: v for k, v in serializer.validated_data.items() if k in values})
        serializer.instance = self.call(
            services.update_corrective_action, actor=self.request.user, action=action_, **values
        )

    @extend_schema(request=s.ProgressSerializer, responses={200: s.CorrectiveActionSerializer})
    @action(detail=True, methods=["post"])
    def progress(self, request: Request, pk: str | None = None) -> Response:
        action_ = self.get_object()
        body = s.ProgressSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        saved = self.call(services.report_action_progress, actor=request.user, action=action_, **body.validated_data)
        return Response(s.CorrectiveActionSerializer(saved).data)

    @extend_schema(request=s.CompleteSerializer, responses={200: s.CorrectiveActionSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str | None = None) -> Response:
        action_ = self.get_object()
        body = s.CompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        saved = self.call(services.complete_action, actor=request.user, action=action_, **body.validated_data)
        return Response(s.CorrectiveActionSerializer(saved).data)


class VerificationViewSet(ServicesDecideMixin, viewsets.ReadOnlyModelViewSet):
    """Effectiveness verifications (recorded through ``nonconformities/<id>/verify/``)."""

    queryset = EffectivenessVerification.objects.select_related("verifier").order_by("-verified_on", "-pk")
    serializer_class = s.VerificationSerializer
