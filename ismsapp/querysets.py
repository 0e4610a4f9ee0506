"""The one permission-filtered starting point for every read: ``Model.objects.for_user(user, perm)``."""

from __future__ import annotations

from typing import Any, Self

from django.db import models


def permission_codename(model: type[models.Model], perm: str) -> str:
    """``"view"`` -> ``"app_label.view_modelname"``; a full ``"app.codename"`` passes through."""
    if "." in perm:
        return perm
    opts = model._meta
    codename = perm if "_" in perm else f"{perm}_{opts.model_name}"
    return f"{opts.app_label}.{codename}"


class ScopedQuerySet(models.QuerySet):
    """A queryset that knows how to narrow itself to what a user may see or do."""

    def for_user(self, user: Any, perm: str = "view") -> Self:
        """Rows on which ``user`` holds ``perm`` (``view``, ``change``, ... or ``app.codename``).

        A role-wide model permission (from the user's groups) covers every row; otherwise only
        rows granted per object through django-guardian (to the user or one of their groups).
        Anonymous and inactive users get nothing.
        """
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        full_perm = permission_codename(self.model, perm)
        if user.has_perm(full_perm):
            return self
        from guardian.shortcuts import get_objects_for_user

        return get_objects_for_user(user, full_perm, klass=self, accept_global_perms=False)
