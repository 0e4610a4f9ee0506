"""The main navigation: each entry shows only to users holding its permission."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    permission: str | tuple[str, ...] | None = None  # None: every logged-in user; a tuple: any of them
    section: str = ""  # url names starting with this mark the item as current


NAVIGATION: list[NavItem] = [
    NavItem("Dashboard", "dashboard", section="dashboard"),
    NavItem("Audit trail", "audit_trail", "ismsapp.view_auditentry", section="audit_trail"),
    NavItem("Users", "users", "ismsapp.view_user", section="user"),
    NavItem("API", "api-docs", section="api-docs"),
]


def register(item: NavItem, *, before: str | None = None) -> None:
    """Add an app's entry (from its ``AppConfig.ready``), optionally before another url name."""
    if any(existing.url_name == item.url_name for existing in NAVIGATION):
        return
    index = next((i for i, existing in enumerate(NAVIGATION) if existing.url_name == before), len(NAVIGATION))
    NAVIGATION.insert(index, item)
