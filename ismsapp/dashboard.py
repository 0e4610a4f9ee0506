"""Dashboard panels. Each app registers panels; the dashboard shows those the user may see.

A panel's ``build(user)`` returns the figures for its template and must run a fixed number of
queries whatever the amount of data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ismsapp.permissions import allowed


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    template: str
    build: Callable[[Any], dict[str, Any]]
    permission: str | tuple[str, ...] | None = None  # a tuple: any one of them
    order: int = 100


PANELS: dict[str, Panel] = {}


def register(panel: Panel) -> None:
    PANELS[panel.key] = panel


def panels_for(user: Any) -> list[dict[str, Any]]:
    visible = [p for p in PANELS.values() if allowed(user, p.permission)]
    return [
        {"key": p.key, "title": p.title, "template": p.template, **p.build(user)}
        for p in sorted(visible, key=lambda p: (p.order, p.key))
    ]
