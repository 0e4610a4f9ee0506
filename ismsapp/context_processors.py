"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from ismsapp.models import Organisation
from ismsapp.navigation import NAVIGATION
from ismsapp.permissions import allowed


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match else ""
    items = [
        {
            "label": item.label,
            "url_name": item.url_name,
            "current": bool(item.section) and current.startswith(item.section),
        }
        for item in NAVIGATION
        if allowed(user, item.permission)
    ]
    return {"nav_items": items, "organisation": SimpleLazyObject(Organisation.current)}
