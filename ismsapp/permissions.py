"""Permission checks shared by pages and the API, all built on ``ScopedQuerySet.for_user``.

Pages use Django's ``PermissionRequiredMixin`` (a logged-in user without the permission gets
403) and start their querysets from ``for_user``.
API: ``ModelPermissions`` (GET needs the view permission too) and ``ScopedViewSetMixin``.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import permissions
from rest_framework.request import Request

from ismsapp.querysets import permission_codename

# What each HTTP method needs on the model (and on the object for detail routes).
METHOD_ACTIONS: dict[str, str] = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def allowed(user: Any, permission: str | tuple[str, ...] | None) -> bool:
    """``None``: every logged-in user; a string: that permission; a tuple: any one of them."""
    if permission is None:
        return True
    return any(user.has_perm(p) for p in ((permission,) if isinstance(permission, str) else permission))


def user_has(user: Any, perm: str, obj: models.Model | None = None) -> bool:
    """A role-wide permission covers every object; otherwise an object-level grant is needed."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.has_perm(perm) or (obj is not None and user.has_perm(perm, obj))


class ModelPermissions(permissions.BasePermission):
    """API rule: authenticated; custom actions need the permission named in the view's
    ``action_permissions``; creating needs the role-wide ``add`` permission; reads and writes on
    an object need ``view``/``change``/``delete`` on it (role-wide or per object), or what the
    view's ``object_permissions`` names for a custom action on one object.

    Lists are narrowed by ``ScopedViewSetMixin.get_queryset`` rather than refused, so a user
    with object-level grants sees exactly their objects.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated and request.user.is_active):
            return False
        action = getattr(view, "action", None)
        if hasattr(view, "action_map") and action is None:
            return True  # a method the viewset does not offer: let DRF answer 405
        model = view.queryset.model if getattr(view, "queryset", None) is not None else None
        if model is None:
            return True
        named = getattr(view, "action_permissions", {}).get(action)
        if named:
            return user_has(request.user, permission_codename(model, named))
        if request.method == "POST" and action == "create":
            return user_has(request.user, permission_codename(model, "add"))
        if getattr(view, "model_permission_required", False):
            # Models without per-object grants: refuse outright instead of an empty list.
            return user_has(
                request.user, permission_codename(model, METHOD_ACTIONS.get(request.method or "GET", "change"))
            )
        return True

    def has_object_permission(self, request: Request, view: Any, obj: models.Model) -> bool:
        required = (
            getattr(view, "object_permissions", {}).get(getattr(view, "action", None))
            or getattr(view, "object_permission", None)
            or METHOD_ACTIONS.get(request.method or "GET", "change")
        )
        return user_has(request.user, permission_codename(type(obj), required), obj)


class ScopedViewSetMixin:
    """Starts every API queryset from ``Model.objects.for_user(user, "view")``."""

    queryset: models.QuerySet
    request: Request

    def get_queryset(self) -> models.QuerySet:
        return self.queryset.all().for_user(self.request.user, "view")
