"""Editing SoA rows in tests through the service, as the page and the API do."""

from __future__ import annotations

from typing import Any

from controls import services
from controls.models import SoAEntry


def soa_entry(edition: str, ref: str) -> SoAEntry:
    return SoAEntry.objects.select_related("control").get(control__edition=edition, control__ref=ref)


def edit_entry(actor: Any, target: SoAEntry, **changes: Any) -> SoAEntry:
    """Save one row, keeping what ``changes`` does not mention."""
    values = {
        "applicable": target.applicable,
        "inclusion_reasons": target.inclusion_reasons,
        "justification": target.justification,
        "implementation_status": target.implementation_status,
        "owner": target.owner,
        "implementation_notes": target.implementation_notes,
        "last_reviewed": target.last_reviewed,
    }
    return services.update_soa_entry(
        actor=actor, entry=target, expected_version=target.row_version, **(values | changes)
    )
