"""What the audits pages share: calling a service from a form, who reads the register."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError

from ismsapp.forms import add_service_errors
from ismsapp.permissions import allowed

REGISTER_READERS = ("audits.view_nonconformity", "risks.own_risk")


def call_service(form: Any, function: Any, **kwargs: Any) -> Any:
    """Run a service; a ValidationError lands on the form (``add_service_errors``) and ``None`` is returned."""
    try:
        return function(**kwargs)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return None


def require_register_reader(user: Any) -> None:
    if not allowed(user, REGISTER_READERS):
        raise PermissionDenied("Your role has no access to the nonconformity register.")
