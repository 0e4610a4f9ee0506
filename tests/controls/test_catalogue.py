"""The catalogue loaded from controls/data matches the verified reference data (ids and titles)."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from controls.catalogue import load_catalogue
from controls.models import Clause, ClauseEntry, Control, ControlAttribute, ControlGroup, ControlMapping, SoAEntry
from tests.conftest import REFERENCE

pytestmark = pytest.mark.django_db


def reference(name: str) -> list[dict[str, str]]:
    with (REFERENCE / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_structure_counts(catalogue) -> None:
    assert Control.objects.filter(edition="2013").count() == 114
    assert ControlGroup.objects.filter(edition="2013", kind="objective").count() == 35
    assert ControlGroup.objects.filter(edition="2013", kind="domain").count() == 14
    assert Control.objects.filter(edition="2022").count() == 93
    per_theme = Counter(Control.objects.filter(edition="2022").values_list("section__ref", flat=True))
    assert per_theme == {"5": 37, "6": 8, "7": 14, "8": 34}
    per_domain = Counter(Control.objects.filter(edition="2013").values_list("section__ref", flat=True))
    assert per_domain == {
        "A.5": 2,
        "A.6": 7,
        "A.7": 6,
        "A.8": 10,
        "A.9": 14,
        "A.10": 2,
        "A.11": 15,
        "A.12": 14,
        "A.13": 7,
        "A.14": 13,
        "A.15": 5,
        "A.16": 7,
        "A.17": 4,
        "A.18": 8,
    }
    new = set(Control.objects.filter(edition="2022", is_new=True).values_list("ref", flat=True))
    assert new == {"5.7", "5.23", "5.30", "7.4", "8.9", "8.10", "8.11", "8.12", "8.16", "8.23", "8.28"}
    assert ControlMapping.objects.count() == 115
    assert Clause.objects.filter(edition="2013").count() == 35
    assert Clause.objects.filter(edition="2022").count() == 41
    # One SoA row per control, one status row per sub-clause.
    assert SoAEntry.objects.count() == 207
    assert ClauseEntry.objects.count() == Clause.objects.filter(is_heading=False).count() == 28 + 34


def test_attributes_of_2022(catalogue) -> None:
    control = Control.objects.get(edition="2022", ref="8.15")
    values = {(a.kind, a.value) for a in control.attributes.all()}
    assert (ControlAttribute.Kind.CONTROL_TYPE, "Detective") in values
    assert (ControlAttribute.Kind.CYBERSECURITY_CONCEPT, "Detect") in values
    types = Counter(
        ";".join(sorted(a.value for a in c.attributes.filter(kind=ControlAttribute.Kind.CONTROL_TYPE)))
        for c in Control.objects.filter(edition="2022").prefetch_related("attributes")
    )
    assert types["Preventive"] == 69


@pytest.mark.reference
def test_matches_reference_ids_and_titles(catalogue) -> None:
    for edition, name in (("2013", "iso27001-2013-annex-a.csv"), ("2022", "iso27001-2022-annex-a.csv")):
        expected = {row["control_id"]: row["control_title"] for row in reference(name)}
        loaded = dict(Control.objects.filter(edition=edition).values_list("ref", "title"))
        assert loaded == expected
    pairs = {(row["control_2013"], row["control_2022"]) for row in reference("mapping-2013-to-2022.csv")}
    loaded_pairs = set(ControlMapping.objects.values_list("control_2013__ref", "control_2022__ref"))
    assert loaded_pairs == pairs
    clauses = {(row["edition"], row["clause_id"]): row["clause_title"] for row in reference("isms-clauses.csv")}
    assert {(c.edition, c.ref): c.title for c in Clause.objects.all()} == clauses


@pytest.mark.reference
def test_attribute_values_match_reference(catalogue) -> None:
    kinds = {
        "control_type": "control_type",
        "security_properties": "security_property",
        "cybersecurity_concepts": "cybersecurity_concept",
    }
    for row in reference("iso27001-2022-annex-a.csv"):
        control = Control.objects.get(edition="2022", ref=row["control_id"])
        for column, kind in kinds.items():
            expected = {v for v in row[column].split(";") if v}
            assert set(control.attributes.filter(kind=kind).values_list("value", flat=True)) == expected, row


def test_loading_is_idempotent_and_repairs(catalogue) -> None:
    control = Control.objects.get(edition="2022", ref="5.1")
    Control.objects.filter(pk=control.pk).update(title="Tampered title")
    counts = load_catalogue()
    assert counts.soa_entries_created == 0
    assert counts.clause_entries_created == 0
    assert Control.objects.get(pk=control.pk).title == "Policies for information security"
    assert Control.objects.count() == 207
    assert ControlMapping.objects.count() == 115


def test_soa_rows_survive_a_reload(catalogue, compliance_officer) -> None:
    from controls import services

    entry = SoAEntry.objects.get(control__edition="2022", control__ref="5.1")
    services.update_soa_entry(
        actor=compliance_officer,
        entry=entry,
        expected_version=0,
        applicable=True,
        inclusion_reasons=["contractual"],
        justification="",
        implementation_status="planned",
        owner=None,
    )
    load_catalogue()
    entry.refresh_from_db()
    assert entry.implementation_status == "planned"
    assert entry.inclusion_reasons == ["contractual"]


@pytest.mark.django_db
@pytest.mark.parametrize("edition", ["2022", "2013"])
def test_attribute_values_from_the_data_files_match_the_loaded_catalogue(catalogue, edition) -> None:
    from controls.catalogue import attribute_values
    from controls.models import ControlAttribute

    loaded = ControlAttribute.objects.filter(controls__edition=edition).order_by("value")
    assert attribute_values(edition) == tuple(loaded.values_list("value", flat=True).distinct())
    assert ("Detective" in attribute_values(edition)) == (edition == "2022")
