"""Load the ISO/IEC 27001 catalogue from ``controls/data/`` (idempotent).

The data files hold identifiers, short titles, structure, 27002:2022 attributes and the Annex B
mapping; never control text. Loading creates what is missing, corrects what changed, and gives
every control and clause its (working-draft) SoA entry.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import models, transaction

from controls.models import (
    Clause,
    ClauseEntry,
    Control,
    ControlAttribute,
    ControlGroup,
    ControlMapping,
    SoAEntry,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
ATTRIBUTE_KINDS = {
    "control_type": ControlAttribute.Kind.CONTROL_TYPE,
    "security_properties": ControlAttribute.Kind.SECURITY_PROPERTY,
    "cybersecurity_concepts": ControlAttribute.Kind.CYBERSECURITY_CONCEPT,
}


@dataclass(frozen=True)
class CatalogueCounts:
    groups: int
    controls: int
    mappings: int
    clauses: int
    soa_entries_created: int
    clause_entries_created: int


def _read(name: str) -> dict[str, Any]:
    return json.loads((DATA_DIR / name).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=2)
def attribute_values(edition: str) -> tuple[str, ...]:
    """The 27002 attribute values the edition's controls carry, sorted: read from the same data
    files ``load_catalogue`` loads, so the SoA filter needs no query for them. Only the 2022
    edition (grouped in themes) has attributes."""
    themes = _read(f"iso27001-{edition}.json").get("themes", [])
    items = [item for theme in themes for item in theme["controls"]]
    return tuple(sorted({value for item in items for key in ATTRIBUTE_KINDS for value in item.get(key, [])}))


def _sync(
    model: type[models.Model], key: Callable[[Any], Hashable], wanted: Iterable[models.Model], fields: list[str]
) -> dict[Hashable, Any]:
    """Make the table hold ``wanted`` (matched by ``key``): create missing rows, update changed ones."""
    existing = {key(obj): obj for obj in model._default_manager.all()}
    to_create, to_update = [], []
    for obj in wanted:
        current = existing.get(key(obj))
        if current is None:
            to_create.append(obj)
        elif any(getattr(current, f) != getattr(obj, f) for f in fields):
            for f in fields:
                setattr(current, f, getattr(obj, f))
            to_update.append(current)
    model._default_manager.bulk_create(to_create)
    if to_update:
        model._default_manager.bulk_update(to_update, fields)
    return {key(obj): obj for obj in model._default_manager.all()}


def _group_key(group: ControlGroup) -> tuple[str, str]:
    return (group.edition, group.ref)


def _load_groups(data_2013: dict[str, Any], data_2022: dict[str, Any]) -> dict[Hashable, ControlGroup]:
    fields = ["kind", "title", "parent_id", "position"]
    position = 0
    tops = []
    for domain in data_2013["domains"]:
        position += 1
        tops.append(
            ControlGroup(edition="2013", kind="domain", ref=domain["ref"], title=domain["title"], position=position)
        )
    for theme in data_2022["themes"]:
        position += 1
        tops.append(
            ControlGroup(edition="2022", kind="theme", ref=theme["ref"], title=theme["title"], position=position)
        )
    groups = _sync(ControlGroup, _group_key, tops, fields)
    objectives = []
    for domain in data_2013["domains"]:
        for objective in domain["objectives"]:
            position += 1
            objectives.append(
                ControlGroup(
                    edition="2013",
                    kind="objective",
                    ref=objective["ref"],
                    title=objective["title"],
                    position=position,
                    parent_id=groups[("2013", domain["ref"])].pk,
                )
            )
    return _sync(ControlGroup, _group_key, tops + objectives, fields)


def _control_rows(
    data_2013: dict[str, Any], data_2022: dict[str, Any], groups: dict[Hashable, ControlGroup]
) -> Iterable[tuple[Control, dict[str, Any]]]:
    position = 0
    for domain in data_2013["domains"]:
        for objective in domain["objectives"]:
            for item in objective["controls"]:
                position += 1
                yield (
                    Control(
                        edition="2013",
                        ref=item["ref"],
                        title=item["title"],
                        position=position,
                        section_id=groups[("2013", domain["ref"])].pk,
                        objective_id=groups[("2013", objective["ref"])].pk,
                    ),
                    item,
                )
    for theme in data_2022["themes"]:
        for item in theme["controls"]:
            position += 1
            yield (
                Control(
                    edition="2022",
                    ref=item["ref"],
                    title=item["title"],
                    position=position,
                    is_new=item["new"],
                    section_id=groups[("2022", theme["ref"])].pk,
                ),
                item,
            )


def _load_attributes(rows: list[tuple[Control, dict[str, Any]]], controls: dict[Hashable, Control]) -> None:
    wanted = {(kind, value) for _, item in rows for key, kind in ATTRIBUTE_KINDS.items() for value in item.get(key, [])}
    attributes = _sync(
        ControlAttribute,
        lambda a: (a.kind, a.value),
        [ControlAttribute(kind=k, value=v) for k, v in sorted(wanted)],
        [],
    )
    through = Control.attributes.through
    links = {
        (controls[(control.edition, control.ref)].pk, attributes[(kind, value)].pk)
        for control, item in rows
        for key, kind in ATTRIBUTE_KINDS.items()
        for value in item.get(key, [])
    }
    existing = set(through.objects.values_list("control_id", "controlattribute_id"))
    through.objects.bulk_create([through(control_id=c, controlattribute_id=a) for c, a in links - existing])
    for control_id, attribute_id in existing - links:
        through.objects.filter(control_id=control_id, controlattribute_id=attribute_id).delete()


def _load_clauses(data_2013: dict[str, Any], data_2022: dict[str, Any]) -> dict[Hashable, Clause]:
    wanted = [
        Clause(
            edition=data["edition"],
            ref=item["ref"],
            title=item["title"],
            is_heading="." not in item["ref"],
            position=position,
        )
        for data in (data_2013, data_2022)
        for position, item in enumerate(data["clauses"], start=1)
    ]
    return _sync(Clause, lambda c: (c.edition, c.ref), wanted, ["title", "is_heading", "position"])


@transaction.atomic
def load_catalogue() -> CatalogueCounts:
    """Load (or correct) both editions, the mapping and the clauses; create missing SoA entries."""
    data_2013, data_2022 = _read("iso27001-2013.json"), _read("iso27001-2022.json")
    groups = _load_groups(data_2013, data_2022)
    rows = list(_control_rows(data_2013, data_2022, groups))
    controls = _sync(
        Control,
        lambda c: (c.edition, c.ref),
        [control for control, _ in rows],
        ["title", "section_id", "objective_id", "is_new", "position"],
    )
    _load_attributes(rows, controls)
    pairs = _read("mapping-2013-2022.json")["pairs"]
    mappings = _sync(
        ControlMapping,
        lambda m: (m.control_2013_id, m.control_2022_id),
        [
            ControlMapping(control_2013_id=controls[("2013", old)].pk, control_2022_id=controls[("2022", new)].pk)
            for old, new in pairs
        ],
        [],
    )
    clauses = _load_clauses(data_2013, data_2022)

    with_entry = set(SoAEntry.objects.values_list("control_id", flat=True))
    new_entries = [SoAEntry(control_id=c.pk) for c in controls.values() if c.pk not in with_entry]
    SoAEntry.objects.bulk_create(new_entries)
    with_clause_entry = set(ClauseEntry.objects.values_list("clause_id", flat=True))
    new_clause_entries = [
        ClauseEntry(clause_id=c.pk) for c in clauses.values() if not c.is_heading and c.pk not in with_clause_entry
    ]
    ClauseEntry.objects.bulk_create(new_clause_entries)
    return CatalogueCounts(
        len(groups), len(controls), len(mappings), len(clauses), len(new_entries), len(new_clause_entries)
    )
