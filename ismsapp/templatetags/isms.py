"""Template tags shared by the platform's pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag(takes_context=True)
def jinja(context: template.Context, template_name: str, **variables: Any) -> SafeString:
    """Render a Jinja2 template (long row lists) inside a Django page, e.g.
    ``{% jinja "controls/soa_rows.jinja" rows=section.rows can_edit=can_edit %}``.

    The row templates it loops over also answer the htmx requests that swap a single row.
    """
    return mark_safe(get_template(template_name).render(variables, context.get("request")))


@register.inclusion_tag("includes/confirm_identity_fields.html", takes_context=True)
def confirm_identity_fields(context: template.Context) -> dict[str, Any]:
    """Password (and code) fields inside a sensitive form, unless the session confirmed recently:
    the step and "confirm it's you" then go in one submission."""
    from ismsapp import identity
    from ismsapp.services import mfa

    request = context.get("request")
    user = getattr(request, "user", None)
    needed = user is not None and user.is_authenticated and not identity.recently_confirmed(request)
    return {"needed": needed, "needs_code": needed and mfa.has_factor(user), "minutes": settings.ISMS_REAUTH_MINUTES}
