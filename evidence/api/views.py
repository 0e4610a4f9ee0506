"""API of machine evidence: sources, HTTP push, jobs, events (cursor pages), session recordings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from evidence import ingestion, services
from evidence.api.serializers import (
    EventSerializer,
    JobSerializer,
    PushAcceptedSerializer,
    SessionSerializer,
    SourceSerializer,
)
from evidence.counting import with_counts
from evidence.formats import FORMATS
from evidence.forms import EventFilterForm
from evidence.models import Event, EvidenceSource, IngestionJob, SessionRecording
from evidence.parsers.base import ParseError
from evidence.parsers.inflate import Budget, GzipReader
from evidence.querysets import filter_events
from ismsapp.api.schema import ErrorSerializer
from ismsapp.permissions import ScopedViewSetMixin


class IdCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class SourceViewSet(
    ScopedViewSetMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Evidence sources. Creating one answers with its push ``token`` (shown once)."""

    queryset = EvidenceSource.objects.select_related("owner").order_by("name")
    serializer_class = SourceSerializer
    model_permission_required = True

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            source, token = services.create_source(actor=request.user, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        return Response({**SourceSerializer(source).data, "token": token}, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: SourceSerializer) -> None:
        try:
            serializer.instance = services.update_source(
                actor=self.request.user, source=serializer.instance, **serializer.validated_data
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc


class RawBodyParser(BaseParser):
    """Leaves the body unread: the view streams it to disk itself."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return None


def _declared_length(request: Request) -> int:
    """The body's Content-Length (0 when absent: a chunked body, which WSGI would read as empty)."""
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


class IngestView(APIView):
    """``POST /api/ingest/<source>/`` with ``Authorization: Bearer <source token>``: raw lines or
    NDJSON (``?format=``, default the source's), optionally ``Content-Encoding: gzip``. Answers 202
    with the job; the body is streamed to disk, never held in memory."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [RawBodyParser]

    @extend_schema(
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=sorted(FORMATS))],
        request={"application/octet-stream": OpenApiTypes.BINARY},
        responses={
            202: PushAcceptedSerializer,
            400: OpenApiTypes.OBJECT,
            401: ErrorSerializer,
            413: ErrorSerializer,
            415: ErrorSerializer,
        },
    )
    def post(self, request: Request, source: str) -> Response:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        found = services.source_by_token(token) if token else None
        if found is None or found.name != source:
            return Response(
                {"detail": "A valid source token is required (Authorization: Bearer <token>)."},
                status=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": "Bearer"},
            )
        fmt = request.query_params.get("format") or found.default_format
        if fmt not in FORMATS:
            return Response(
                {"format": f"Unknown format {fmt!r}; use one of {', '.join(sorted(FORMATS))}."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if not _declared_length(request):
            return Response(
                {"detail": "The request body is empty: send the evidence with a Content-Length header."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        body: Any = request._request
        encoding = request.META.get("HTTP_CONTENT_ENCODING", "").lower()
        if encoding == "gzip":
            budget = Budget(settings.EVIDENCE_MAX_UPLOAD_BYTES, "too_large")
            body = GzipReader(body, budget, truncated="truncated_gzip", corrupt="bad_gzip")
        elif encoding not in ("", "identity"):
            return Response(
                {"detail": f"Unsupported Content-Encoding {encoding!r} (use gzip)."},
                status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            )
        try:
            job = ingestion.create_job(
                actor=None,
                source=found,
                fmt=fmt,
                stream=body,
                filename=request.query_params.get("filename", "http-push")[:255],
                receiver=IngestionJob.Receiver.PUSH,
                inflate=encoding != "gzip",  # inflated once, within one budget
            )
        except ParseError as exc:  # from the gzip reader: what was wrong with the body
            return Response({"detail": exc.detail, "reason": exc.reason}, status=status.HTTP_400_BAD_REQUEST)
        except DjangoValidationError as exc:  # the filename
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        url = reverse("ingestionjob-detail", args=[job.pk])
        return Response(
            {"job": str(job.pk), "url": url, "status": job.status},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )


class JobViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = IngestionJob.objects.select_related("source").order_by("-created_at")
    serializer_class = JobSerializer
    model_permission_required = True


EVENT_FILTERS = [
    OpenApiParameter(name, OpenApiTypes.STR)
    for name in (
        "source",
        "host",
        "user",
        "source_ip",
        "action",
        "outcome",
        "since",
        "until",
        "edition",
        "control",
        "job",
    )
]


@extend_schema_view(list=extend_schema(parameters=EVENT_FILTERS))
class EventViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Events, newest first, with the explorer's filters; cursor pages (no COUNT, no OFFSET)."""

    queryset = Event.objects.select_related("source")
    serializer_class = EventSerializer
    pagination_class = IdCursorPagination
    model_permission_required = True

    def get_queryset(self) -> QuerySet:
        queryset = with_counts(super().get_queryset())
        if self.action != "list":
            return queryset
        form = EventFilterForm(self.request.query_params)
        if not form.is_valid():
            raise ValidationError(form.errors)
        return filter_events(queryset, form.cleaned_data)


@extend_schema_view(list=extend_schema(parameters=[OpenApiParameter("q", OpenApiTypes.STR)]))
class SessionViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Session recordings; ``q`` searches the commands typed, the user and the host."""

    queryset = SessionRecording.objects.select_related("source").order_by("-started_at", "-pk")
    serializer_class = SessionSerializer
    model_permission_required = True

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        query = self.request.query_params.get("q", "").strip()
        if query:
            queryset = queryset.filter(Q(command_text__icontains=query) | Q(user__iexact=query) | Q(host__iexact=query))
        return queryset
