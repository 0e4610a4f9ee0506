"""The web side of "confirm it's you" (the rules and the check itself: ``ismsapp.services.identity``):
a mixin and a decorator for pages, the answer to a refusal, and the API's fields and checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from axes.helpers import get_lockout_response
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication

from ismsapp.services.identity import (
    LOCKED_OUT_MESSAGE,
    IdentityConfirmationRequired,
    IdentityLockedOut,
    confirm_identity,
    recently_confirmed,
    require_identity,
)

__all__ = [  # what pages and API actions use; the check's own names come from the services
    "IdentityConfirmationRequired",
    "IdentityConfirmed",
    "IdentityConfirmedMixin",
    "IdentityFieldsSerializer",
    "IdentityLockedOut",
    "IdentityLockedOutError",
    "confirm_identity",
    "handle_identity_refusal",
    "identity_confirmed",
    "recently_confirmed",
    "require_identity",
    "require_identity_for_api",
    "without_identity_fields",
]


# --- pages ---------------------------------------------------------------------------------------


def confirmation_url(next_url: str) -> str:
    return f"{reverse('confirm_identity')}?{urlencode({'next': next_url})}"


def _return_url(request: HttpRequest) -> str:
    """Where to come back after confirming: the page itself for a GET, the page that posted
    the form (when it is ours) for a POST, else the dashboard."""
    if request.method == "GET":
        return request.get_full_path()
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return reverse("dashboard")


def handle_identity_refusal(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The page's answer when the identity check did not pass."""
    if isinstance(exc, IdentityLockedOut):
        return get_lockout_response(request, credentials={"username": request.user.get_username()})
    if isinstance(exc, ValidationError):
        messages.error(request, " ".join(exc.messages))
    else:
        messages.info(request, "Confirm it's you to continue, then repeat the step.")
    return HttpResponseRedirect(confirmation_url(_return_url(request)))


class IdentityConfirmedMixin:
    """Class-based views: the methods in ``identity_methods`` need a recent confirmation.

    Put it after ``PermissionRequiredMixin`` so that refused users are refused first.
    """

    identity_methods: tuple[str, ...] = ("POST",)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method in self.identity_methods:
            try:
                require_identity(request, request.POST)
            except (IdentityConfirmationRequired, IdentityLockedOut, ValidationError) as exc:
                return handle_identity_refusal(request, exc)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


def identity_confirmed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Function views: POSTs need a recent confirmation (see ``IdentityConfirmedMixin``)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            try:
                require_identity(request, request.POST)
            except (IdentityConfirmationRequired, IdentityLockedOut, ValidationError) as exc:
                return handle_identity_refusal(request, exc)
        return view(request, *args, **kwargs)

    return wrapped


# --- API -----------------------------------------------------------------------------------------


class IdentityFieldsSerializer(serializers.Serializer):
    """Mix into the request serializer of a sensitive API action: token clients confirm in the body."""

    password = serializers.CharField(
        write_only=True,
        required=False,
        trim_whitespace=False,
        help_text="Your password, to confirm it's you (not needed shortly after a confirmation in the browser).",
    )
    otp_code = serializers.CharField(
        write_only=True,
        required=False,
        max_length=20,
        help_text="The code of your authenticator app or a recovery code, if you have a second factor.",
    )


def without_identity_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """A serializer's validated data less ``password`` and ``otp_code`` (for the service call)."""
    return {key: value for key, value in data.items() if key not in IdentityFieldsSerializer._declared_fields}


class IdentityLockedOutError(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = LOCKED_OUT_MESSAGE
    default_code = "locked_out"


def require_identity_for_api(request: Any) -> None:
    """API actions: a browser session recently confirmed passes; otherwise the body must carry
    ``password`` (and ``otp_code``). 400 naming the field when missing or wrong, 429 when locked out."""
    session_auth = isinstance(getattr(request, "successful_authenticator", None), SessionAuthentication)
    if session_auth and recently_confirmed(request):
        return
    data = request.data if isinstance(request.data, Mapping) else {}
    try:
        if not data.get("password"):
            raise ValidationError(
                {"password": "Confirm it's you: send your password (and otp_code) with this request."}
            )
        confirm_identity(
            actor=request.user, request=request, password=data.get("password"), otp_code=str(data.get("otp_code") or "")
        )
    except IdentityLockedOut as exc:
        raise IdentityLockedOutError() from exc
    except ValidationError as exc:
        raise exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from exc


class IdentityConfirmed:
    """DRF permission-style helper for whole views: ``permission_classes = [..., IdentityConfirmed]``
    checks the confirmation on unsafe methods (errors as in ``require_identity_for_api``)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            require_identity_for_api(request)
        return True

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        return True
