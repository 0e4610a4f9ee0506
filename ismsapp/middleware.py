"""Request-wide middleware: audit context, refused-access logging, login required by default."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone
from rest_framework.views import APIView

from ismsapp.audit import audit_context
from ismsapp.models import UserSession
from ismsapp.refusals import record_refusal
from ismsapp.services import sessions


class AuditContextMiddleware:
    """Attributes audit entries written during a request to its user and client address, and
    records every refused access in the audit trail: 401, 403 (CSRF failures included) and the
    404 of object scoping, within a per-minute bound (``ismsapp/refusals.py``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with audit_context(request=request):
            response = self.get_response(request)
            record_refusal(request, response.status_code)
        return response


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Every page needs a logged-in user unless its view is marked ``@login_not_required``.

    API views are left to Django REST framework, which answers 401 JSON instead of redirecting,
    except API views meant for people in a browser (``login_redirect = True``, e.g. the API docs).
    """

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        view_class = getattr(view_func, "cls", None)
        if isinstance(view_class, type) and issubclass(view_class, APIView):
            if getattr(view_class, "login_redirect", False) and not request.user.is_authenticated:
                return self.handle_no_permission(request, view_func)
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class MFAEnrolmentMiddleware:
    """A user whose role requires a second factor and who has none is sent to enrolment and can
    do nothing else (logging out aside) until enrolled. API calls answer 403 with the reason."""

    ALLOWED_URL_NAMES = frozenset({"mfa", "mfa_totp_enrol", "confirm_identity", "logout", "login", "health"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        from ismsapp.services import mfa

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not mfa.needs_enrolment(user):
            return None
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name in self.ALLOWED_URL_NAMES:
            return None
        if request.path.startswith("/api/"):
            from django.http import JsonResponse

            return JsonResponse(
                {"detail": "Your role requires a second factor: set it up in the browser first."}, status=403
            )
        return HttpResponseRedirect(f"{reverse('mfa')}?required=1")


@cache
def _api_prefix() -> str:
    return reverse("api-root")


class SessionLifetimeMiddleware:
    """Ends sessions that are idle too long, too old, ended elsewhere or unknown (after
    ``AuthenticationMiddleware`` and ``MessageMiddleware``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if SESSION_KEY in request.session and request.user.is_authenticated:
            key_hash = sessions.current_session_hash(request)
            row = UserSession.objects.filter(key_hash=key_hash, user=request.user).first() if key_hash else None
            now = timezone.now()
            reason = sessions.expiry_of(row, now)
            if reason is not None:
                message = sessions.expiry_message(reason, row)
                sessions.expire_session(request, reason, row)
                return self._refused(request, message)
            sessions.touch(request, row, now)
        return self.get_response(request)

    def _refused(self, request: HttpRequest, message: str) -> HttpResponse:
        if request.path_info.startswith(_api_prefix()):
            response: HttpResponse = JsonResponse({"detail": message}, status=401)
            response["WWW-Authenticate"] = "Token"
            return response
        messages.warning(request, message)
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=401)
            response["HX-Redirect"] = reverse(settings.LOGIN_URL)
            return response
        return redirect_to_login(request.get_full_path())
