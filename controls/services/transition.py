"""Transition 2013 -> 2022: pre-fill the 2022 working draft from the 2013 SoA through Annex B.

The 2013 SoA is its working draft or a published version (whose snapshot is checked first).
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

from controls import reports  # the module: controls.reports itself reads the services
from controls.models import ControlMapping, ImplementationStatus, SoAEntry
from controls.soa import SoARow
from ismsapp.audit import acting_as
from ismsapp.models import User

STATUS_ORDER = list(ImplementationStatus.values)  # not started < planned < partial < implemented


@dataclass(frozen=True)
class TransitionResult:
    copied: int
    merged: int
    new: int


def _labelled(sources: list[SoARow], attribute: str) -> str:
    texts = [(s.ref, getattr(s, attribute).strip()) for s in sources if getattr(s, attribute).strip()]
    if len(sources) == 1:
        return texts[0][1] if texts else ""
    return "\n".join(f"[{ref}] {text}" for ref, text in texts)


def _combine(target: SoAEntry, sources: list[SoARow]) -> None:
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
    refs = ", ".join(s.ref for s in sources)
    if len(sources) > 1:
        target.review_needed = True
        target.review_note = f"Merged from {refs}: check the combined row."
        target.last_reviewed = None  # the combined row has not been reviewed yet
    else:
        target.review_needed = False
        target.review_note = ""
        target.last_reviewed = sources[0].last_reviewed


def _sources_2013(version: int | None) -> dict[int, list[SoARow]]:
    """The 2013 rows (draft or published ``version``) that feed each 2022 control, by its id."""
    rows = {row.ref: row for row in reports.soa_view_for("2013", version, with_attributes=False).rows}
    users = dict(
        User.objects.filter(username__in={r.owner for r in rows.values() if r.owner}).values_list("username", "pk")
    )
    for row in rows.values():  # a published row names its owner; the draft row also has the id
        row.owner_id = row.owner_id or users.get(row.owner)
    sources_of: dict[int, list[SoARow]] = defaultdict(list)
    for mapping in ControlMapping.objects.select_related("control_2013").order_by("control_2013__position"):
        if mapping.control_2013.ref in rows:
            sources_of[mapping.control_2022_id].append(rows[mapping.control_2013.ref])
    return sources_of


@transaction.atomic
def transition_2013_to_2022(*, actor: User, overwrite: bool = False, version: int | None = None) -> TransitionResult:
    """Pre-fill every 2022 row from its 2013 sources (the working draft, or published ``version``).
    Refuses to replace 2022 rows that someone already edited unless ``overwrite`` is set."""
    targets = list(SoAEntry.objects.select_for_update().filter(control__edition="2022").select_related("control"))
    if not overwrite and any(entry.row_version > 0 for entry in targets):
        raise ValidationError(
            {"overwrite": "The 2022 SoA has already been edited; confirm that it should be replaced."}
        )
    sources_of = _sources_2013(version)
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
                target.owner_id, target.implementation_notes, target.last_reviewed = None, "", None
                target.review_needed, target.review_note = True, "New control in ISO/IEC 27001:2022: assess it."
                new += 1
            target.row_version += 1
            target.updated_by = actor
            target.full_clean()
            target.save()
    return TransitionResult(copied, merged, new)
