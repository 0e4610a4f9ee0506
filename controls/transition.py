"""Transition 2013 -> 2022: pre-fill the 2022 working draft from the 2013 SoA through Annex B.

One source: the 2022 row copies it. Several sources (a merged control): the row combines them —
applicable if any source is, the union of inclusion reasons, the least advanced status among the
applicable sources, the justifications and notes of each source labelled with its reference —
and is flagged "review needed". The 11 controls new in 2022 have no source and are flagged too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from controls.models import ControlMapping, ImplementationStatus, SoAEntry
from ismsapp.audit import acting_as
from ismsapp.models import User

STATUS_ORDER = list(ImplementationStatus.values)  # not started < planned < partial < implemented


@dataclass(frozen=True)
class TransitionResult:
    copied: int
    merged: int
    new: int


def _labelled(sources: list[SoAEntry], attribute: str) -> str:
    texts = [(s.control.ref, getattr(s, attribute).strip()) for s in sources if getattr(s, attribute).strip()]
    if len(sources) == 1:
        return texts[0][1] if texts else ""
    return "\n".join(f"[{ref}] {text}" for ref, text in texts)


def _combine(target: SoAEntry, sources: list[SoAEntry]) -> None:
    applicable_sources = [s for s in sources if s.applicable] or sources
    target.applicable = any(s.applicable for s in sources)
    target.inclusion_reasons = (
        sorted({reason for s in sources if s.applicable for reason in s.inclusion_reasons}) if target.applicable else []
    )
    target.justification = _labelled(sources, "justification")
    target.implementation_status = min((s.implementation_status for s in applicable_sources), key=STATUS_ORDER.index)
    owners = {s.owner_id for s in applicable_sources if s.owner_id}
    target.owner_id = (
        owners.pop() if len(owners) == 1 else next((s.owner_id for s in applicable_sources if s.owner_id), None)
    )
    target.implementation_notes = _labelled(sources, "implementation_notes")
    refs = ", ".join(s.control.ref for s in sources)
    if len(sources) > 1:
        target.review_needed = True
        target.review_note = f"Merged from {refs}: check the combined row."
    else:
        target.review_needed = False
        target.review_note = ""


@transaction.atomic
def transition_2013_to_2022(*, actor: User, overwrite: bool = False) -> TransitionResult:
    """Pre-fill every 2022 row from its 2013 sources. Refuses to replace 2022 rows that someone
    already edited unless ``overwrite`` is set."""
    targets = list(SoAEntry.objects.select_for_update().filter(control__edition="2022").select_related("control"))
    if not overwrite and any(entry.row_version > 0 for entry in targets):
        raise ValidationError("The 2022 SoA has already been edited; confirm that it should be replaced.")
    sources_of: dict[int, list[SoAEntry]] = defaultdict(list)
    old_entries = {e.control_id: e for e in SoAEntry.objects.filter(control__edition="2013").select_related("control")}
    for mapping in ControlMapping.objects.order_by("control_2013__position"):
        if mapping.control_2013_id in old_entries:
            sources_of[mapping.control_2022_id].append(old_entries[mapping.control_2013_id])
    copied = merged = new = 0
    with acting_as(actor):
        for target in targets:
            sources = sources_of.get(target.control_id, [])
            if sources:
                _combine(target, sources)
                merged += len(sources) > 1
                copied += len(sources) == 1
            else:
                target.applicable, target.inclusion_reasons, target.justification = True, [], ""
                target.implementation_status = ImplementationStatus.NOT_STARTED
                target.owner_id, target.implementation_notes = None, ""
                target.review_needed, target.review_note = True, "New control in ISO/IEC 27001:2022: assess it."
                new += 1
            target.row_version += 1
            target.updated_by = actor
            target.full_clean()
            target.save()
    return TransitionResult(copied, merged, new)
