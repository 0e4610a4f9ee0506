"""Sections other apps add to a risk's page (e.g. the audits app: nonconformities raised against
its treatment controls), so the risk register does not depend on them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from risks.models import Risk


@dataclass(frozen=True)
class RiskSection:
    """``context(user, risk)`` returns the template's context, or ``None`` to show nothing."""

    key: str
    template: str
    context: Callable[[Any, Risk], dict[str, Any] | None]


RISK_SECTIONS: dict[str, RiskSection] = {}


def register(section: RiskSection) -> None:
    RISK_SECTIONS[section.key] = section


def sections_for(user: Any, risk: Risk) -> list[tuple[str, dict[str, Any]]]:
    """(template, context) of each registered section that has something for ``user``."""
    shown = []
    for section in RISK_SECTIONS.values():
        context = section.context(user, risk)
        if context is not None:
            shown.append((section.template, context))
    return shown
