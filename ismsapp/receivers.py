"""Signal receivers: security events into the audit trail, role permissions after ``migrate``."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.apps import apps as global_apps
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_migrate
from django.http import HttpRequest

from ismsapp.audit import record_event
from ismsapp.roles import sync_roles
from ismsapp.services import sessions


def _action(name: str) -> int:
    from ismsapp.models import AuditEntry

    return getattr(AuditEntry.Action, name)


def on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record_event(_action("LOGIN"), request=request, actor=user, obj=user)


def on_logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record_event(_action("LOGOUT"), request=request, actor=user, obj=user)


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username = str(credentials.get("username", ""))[:150]
    detail = {"username": username}
    if credentials.get("step"):  # a second factor or a "confirm it's you", not the password login
        detail["step"] = str(credentials["step"])[:100]
    record_event(_action("LOGIN_FAILED"), request=request, detail=detail)


def on_locked_out(
    sender: Any, request: HttpRequest | None, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    record_event(_action("LOCKED_OUT"), request=request, detail={"username": (username or "")[:150]})


def on_post_migrate(sender: Any, **kwargs: Any) -> None:
    sync_roles(kwargs.get("apps", global_apps).get_model)


def connect() -> None:
    user_logged_in.connect(on_logged_in, dispatch_uid="isms_audit_login")
    user_logged_out.connect(on_logged_out, dispatch_uid="isms_audit_logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="isms_audit_login_failed")
    user_locked_out.connect(on_locked_out, dispatch_uid="isms_audit_locked_out")
    post_migrate.connect(on_post_migrate, dispatch_uid="isms_sync_roles")
    connect_sessions()


# --- the record of each user's sessions (ismsapp.services.sessions) ---


def _on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        sessions.record_login(request, user)


def _on_logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None:
        sessions.record_logout(request)


def connect_sessions() -> None:
    user_logged_in.connect(_on_logged_in, dispatch_uid="isms_session_record_login")
    user_logged_out.connect(_on_logged_out, dispatch_uid="isms_session_record_logout")
