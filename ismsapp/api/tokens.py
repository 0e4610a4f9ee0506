"""API tokens over the API: exchange a password for a token, list, create and revoke tokens.

The key is in the response of the call that creates it and nowhere else.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from ismsapp.models import ApiToken
from ismsapp.services import tokens

LOCKED_OUT_MESSAGE = (
    "Too many failed login attempts for this username from your address. "
    "Try again later or ask an ISMS admin to lift the lock."
)


class ApiTokenSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", read_only=True)
    status = serializers.SerializerMethodField()
    revoked_by = serializers.CharField(source="revoked_by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "user",
            "status",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "revoked_by",
            "revoke_reason",
        ]
        read_only_fields = fields

    def get_status(self, token: ApiToken) -> str:
        return tokens.status_of(token)


class NewTokenSerializer(serializers.Serializer):
    """What a client asks for; the answer adds the key (shown once)."""

    name = serializers.CharField(max_length=tokens.NAME_MAX, trim_whitespace=False)
    expires_in_days = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=100_000)


class IssuedTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The key: shown once, keep it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = ["token", *ApiTokenSerializer.Meta.fields]
        read_only_fields = fields


def _issued(issued: tokens.IssuedToken) -> dict[str, Any]:
    return {**ApiTokenSerializer(issued.token).data, "token": issued.key}


def _issue(actor: Any, name: Any, days: Any) -> tokens.IssuedToken:
    try:
        return tokens.create_token(actor=actor, name=name, expires_in_days=days)
    except DjangoValidationError as exc:
        raise ValidationError(exc.message_dict) from exc
    except DjangoPermissionDenied as exc:
        raise PermissionDenied(str(exc)) from exc


class ApiTokenViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Your API tokens (every user's for ISMS admins). Creating answers with the key, once."""

    queryset = ApiToken.objects.all()
    serializer_class = ApiTokenSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self) -> QuerySet[ApiToken]:
        return tokens.visible_tokens(self.request.user).order_by("-created_at", "-pk")

    @extend_schema(request=NewTokenSerializer, responses={201: IssuedTokenSerializer, 400: None})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        asked = NewTokenSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        issued = _issue(request.user, asked.validated_data["name"], asked.validated_data.get("expires_in_days"))
        return Response(_issued(issued), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ApiTokenSerializer, 403: None, 404: None})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        token = self.get_object()
        try:
            tokens.revoke_token(actor=request.user, token=token)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        token.refresh_from_db()
        return Response(ApiTokenSerializer(token).data)


class PasswordTokenSerializer(AuthTokenSerializer):
    name = serializers.CharField(max_length=tokens.NAME_MAX, required=False, trim_whitespace=False)
    expires_in_days = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=100_000)


class TokenView(generics.GenericAPIView):
    """Exchange a username and password for a new API token (failed attempts count towards lockout).

    Optional ``name`` (default: "API token <date>") and ``expires_in_days``. The key is shown once.
    """

    serializer_class = PasswordTokenSerializer
    authentication_classes: list[type] = []
    permission_classes: list[type] = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(responses={200: IssuedTokenSerializer, 400: None, 429: None})
    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except ValidationError:
            # django-axes marks the request it was given (this DRF request) when it is locked out.
            if getattr(request, "axes_locked_out", False):
                return Response({"detail": LOCKED_OUT_MESSAGE}, status=429)
            raise
        data = serializer.validated_data
        name = data.get("name") or f"API token {timezone.now():%Y-%m-%d %H:%M} UTC"
        return Response(_issued(_issue(data["user"], name, data.get("expires_in_days"))))
