"""API views of the platform: who am I, the audit trail, users (API tokens: ``ismsapp.api.tokens``)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import generics, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from ismsapp.api.pagination import SeqCursorPagination
from ismsapp.api.serializers import AuditEntrySerializer, MeSerializer, UserSerializer
from ismsapp.forms import AuditTrailFilterForm
from ismsapp.models import AuditEntry, User
from ismsapp.permissions import ScopedViewSetMixin


class MeView(generics.GenericAPIView):
    """The authenticated user, their roles and effective model permissions."""

    serializer_class = MeSerializer
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(request.user).data)


AUDIT_FILTERS = [
    OpenApiParameter("actor", OpenApiTypes.STR, description="Username of the actor"),
    OpenApiParameter("action", OpenApiTypes.INT, description="Action code (see AuditEntry.Action)"),
    OpenApiParameter("object_type", OpenApiTypes.STR, description="app_label.model"),
    OpenApiParameter("q", OpenApiTypes.STR, description="Text contained in the object representation"),
    OpenApiParameter("since", OpenApiTypes.DATETIME),
    OpenApiParameter("until", OpenApiTypes.DATETIME),
]


@extend_schema_view(list=extend_schema(parameters=AUDIT_FILTERS))
class AuditEntryViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """The application's audit trail, newest first, with the hash-chain fields of each entry."""

    queryset = AuditEntry.objects.all()
    serializer_class = AuditEntrySerializer
    pagination_class = SeqCursorPagination
    lookup_field = "seq"
    model_permission_required = True

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        params: QueryDict = self.request.query_params
        form = AuditTrailFilterForm(params)
        if not form.is_valid():
            raise ValidationError(form.errors)
        return form.filter(queryset)


class UserViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """People using the ISMS and their roles (role-wide, or per user through object grants)."""

    queryset = User.objects.prefetch_related("groups").order_by("username")
    serializer_class = UserSerializer


class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI, served from the app's own static files; visitors without login go to login."""

    login_redirect = True
