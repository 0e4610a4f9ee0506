"""Request-wide middleware: audit context, refused-access logging, login required by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.http import HttpRequest, HttpResponse
from rest_framework.views import APIView

from ismsapp.audit import audit_context
from ismsapp.refusals import record_refusal


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
