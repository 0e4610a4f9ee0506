"""Jinja2 environment for the row templates of long tables (the SoA renders hundreds of rows;
Jinja2 renders them several times faster than Django templates). Pages stay Django templates."""

from __future__ import annotations

from typing import Any

from django.templatetags.static import static
from django.urls import reverse
from jinja2 import Environment, StrictUndefined


def environment(**options: Any) -> Environment:
    options["undefined"] = StrictUndefined  # a misspelt variable fails loudly instead of rendering empty
    options.pop("autoescape", None)
    env = Environment(autoescape=True, **options)  # always: row templates show what users typed
    env.globals.update(static=static, url=lambda name, *args: reverse(name, args=args))
    env.filters["linebreaksbr"] = _linebreaksbr
    return env


def _linebreaksbr(value: str) -> Any:
    from markupsafe import Markup, escape

    return Markup("<br>").join(escape(line) for line in str(value).splitlines())
