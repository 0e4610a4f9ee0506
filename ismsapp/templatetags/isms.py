"""Template tags shared by the platform's pages."""

from __future__ import annotations

from typing import Any

from django import template
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
