"""API of the catalogue (read-only) and the SoA (entries, versions: list, publish, diff)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from controls import services
from controls.api.serializers import (
    ConfirmReviewSerializer,
    ControlSerializer,
    DiffQuerySerializer,
    EditConflictSerializer,
    PublishSerializer,
    RowChangeSerializer,
    SoAEntrySerializer,
    SoAVersionDetailSerializer,
    SoAVersionSerializer,
)
from controls.models import Control, SoAEntry, SoAVersion
from controls.models.soa import immutable_version_error
from controls.reports import soa_view_for
from controls.soa import diff_views
from ismsapp.identity import require_identity_for_api, without_identity_fields
from ismsapp.permissions import ScopedViewSetMixin


class AlteredVersion(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "altered"


def api_error(exc: DjangoValidationError) -> APIException:
    """The API form of a service's refusal: 400 naming the fields, 409 for an altered version."""
    detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
    return AlteredVersion(detail) if isinstance(exc, services.AlteredVersionError) else ValidationError(detail)


def _edition_filter(queryset: QuerySet, request: Request, field: str) -> QuerySet:
    edition = request.query_params.get("edition")
    if edition:
        if edition not in ("2013", "2022"):
            raise ValidationError({"edition": "Use 2013 or 2022."})
        queryset = queryset.filter(**{field: edition})
    return queryset


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("edition", OpenApiTypes.STR, enum=["2013", "2022"]),
            OpenApiParameter(
                "theme", OpenApiTypes.STR, description="Theme (2022) or domain (2013) reference, e.g. 8 or A.12"
            ),
            OpenApiParameter("q", OpenApiTypes.STR, description="Text in the reference or title"),
        ]
    )
)
class ControlViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Annex A controls of both editions with their 27002:2022 attributes."""

    queryset = (
        Control.objects.select_related("section", "objective").prefetch_related("attributes").order_by("position")
    )
    serializer_class = ControlSerializer
    model_permission_required = True

    def get_queryset(self) -> QuerySet:
        queryset = _edition_filter(super().get_queryset(), self.request, "edition")
        if theme := self.request.query_params.get("theme"):
            queryset = queryset.filter(section__ref=theme)
        if query := self.request.query_params.get("q"):
            queryset = queryset.filter(Q(title__icontains=query) | Q(ref__icontains=query))
        return queryset


# A saved row, or 409 with the current row on a stale row_version (400s: ismsapp/api/schema.py).
SAVE_RESPONSES = {200: SoAEntrySerializer, 409: EditConflictSerializer}


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("edition", OpenApiTypes.STR, enum=["2013", "2022"])]),
    partial_update=extend_schema(responses=SAVE_RESPONSES),
)
class SoAEntryViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Working-draft SoA rows. PUT/PATCH need ``row_version``; a stale one answers 409 with the current row."""

    queryset = SoAEntry.objects.select_related("control", "owner").order_by("control__position")
    serializer_class = SoAEntrySerializer
    model_permission_required = True
    action_permissions = {"confirm_review": "change"}
    object_permissions = {"confirm_review": "change"}

    def get_queryset(self) -> QuerySet:
        return _edition_filter(super().get_queryset(), self.request, "control__edition")

    @extend_schema(responses=SAVE_RESPONSES)
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        entry = self.get_object()
        serializer = self.get_serializer(entry, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        values = {
            name: data.get(name, getattr(entry, name))
            for name in (
                "applicable",
                "inclusion_reasons",
                "justification",
                "implementation_status",
                "owner",
                "implementation_notes",
                "last_reviewed",
            )
        }
        return _saved(
            lambda: services.update_soa_entry(
                actor=request.user, entry=entry, expected_version=data["row_version"], **values
            )
        )

    @extend_schema(
        request=ConfirmReviewSerializer,
        responses=SAVE_RESPONSES,
    )
    @action(detail=True, methods=["post"], url_path="confirm-review")
    def confirm_review(self, request: Request, pk: str | None = None) -> Response:
        """Confirm a row flagged "review needed" (after the 2013 -> 2022 transition)."""
        entry = self.get_object()
        serializer = ConfirmReviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _saved(
            lambda: services.confirm_review(
                actor=request.user, entry=entry, expected_version=serializer.validated_data["row_version"]
            )
        )


def _saved(save: Callable[[], SoAEntry]) -> Response:
    """The row as saved, 409 with the current row on a stale ``row_version``, 400 naming the field."""
    try:
        saved = save()
    except services.EditConflict as conflict:
        return Response(
            {"detail": str(conflict), "current": SoAEntrySerializer(conflict.current).data},
            status=status.HTTP_409_CONFLICT,
        )
    except DjangoValidationError as exc:
        raise api_error(exc) from exc
    return Response(SoAEntrySerializer(saved).data)


def _version_number(raw: str) -> int | None:
    if raw in ("", "draft"):
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ValidationError({"version": f"{raw!r} is not a version number or 'draft'."}) from exc


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("edition", OpenApiTypes.STR, enum=["2013", "2022"])])
)
class SoAVersionViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Published SoA versions (immutable). ``publish`` freezes the working draft; ``diff`` compares two."""

    queryset = SoAVersion.objects.select_related("approver", "published_by").order_by("edition", "-number")
    serializer_class = SoAVersionSerializer
    model_permission_required = True
    action_permissions = {"publish": "publish_soaversion", "diff": "view"}

    def get_queryset(self) -> QuerySet:
        queryset = _edition_filter(super().get_queryset(), self.request, "edition")
        return queryset if self.action == "retrieve" else queryset.defer("snapshot")

    def get_serializer_class(self) -> type:
        return SoAVersionDetailSerializer if self.action == "retrieve" else super().get_serializer_class()

    @extend_schema(responses={200: SoAVersionDetailSerializer, 409: OpenApiTypes.OBJECT})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One version with its snapshot, refused (409) if the snapshot was altered after publication."""
        version = self.get_object()
        try:
            services.check_version_integrity(version)
        except services.AlteredVersionError as exc:
            raise api_error(exc) from exc
        return Response(self.get_serializer(version).data)

    def http_method_not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """PUT, PATCH and DELETE on a version: 405 naming the ``version`` field, as the model's
        refusal does (other routes and methods: DRF's usual 405)."""
        if request.method not in ("PUT", "PATCH", "DELETE") or "pk" not in kwargs:
            return super().http_method_not_allowed(request, *args, **kwargs)
        # Visibility as for reading (a reader without the version gets 404), no "change" check:
        # nobody may change a version, and the answer says so.
        version = get_object_or_404(self.get_queryset(), pk=kwargs["pk"])
        return Response(immutable_version_error(version.number).message_dict, status=status.HTTP_405_METHOD_NOT_ALLOWED)

    @extend_schema(
        request=PublishSerializer,
        responses={201: SoAVersionSerializer, 400: OpenApiTypes.OBJECT, 429: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["post"])
    def publish(self, request: Request) -> Response:
        require_identity_for_api(request)
        serializer = PublishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            version = services.publish_soa(actor=request.user, **without_identity_fields(serializer.validated_data))
        except DjangoValidationError as exc:
            raise api_error(exc) from exc
        return Response(SoAVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[DiffQuerySerializer], responses={200: RowChangeSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def diff(self, request: Request) -> Response:
        query = DiffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        edition = query.validated_data["edition"]
        try:
            before = soa_view_for(edition, _version_number(query.validated_data["from_version"]))
            after = soa_view_for(edition, _version_number(query.validated_data["to_version"]))
        except DjangoValidationError as exc:
            raise api_error(exc) from exc
        changes = diff_views(before, after)
        return Response(RowChangeSerializer(changes, many=True).data)
