"""The dashboard shows real figures per role, in a constant number of queries."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ismsapp import services
from ismsapp.roles import Role

pytestmark = pytest.mark.django_db


def test_admin_sees_people_and_audit_figures(client_for, client) -> None:
    client.post(reverse("login"), {"username": "risk_owner", "password": "nope"})
    response = client_for("isms_admin").get(reverse("dashboard"))
    panels = {panel["key"]: panel for panel in response.context["panels"]}
    assert set(panels) == {"you", "soa", "risks", "audits", "evidence", "people", "audit_trail"}
    assert dict(panels["people"]["roles"])["Risk owner"] == 1
    assert panels["people"]["active"] == 6
    assert panels["people"]["without_role"] == 1
    assert panels["audit_trail"]["failed_logins"] == 1
    assert b'data-figure="failed-logins">1<' in response.content


def test_risk_owner_sees_only_their_panels(client_for) -> None:
    response = client_for("risk_owner").get(reverse("dashboard"))
    assert [panel["key"] for panel in response.context["panels"]] == ["you", "soa", "risks", "audits"]
    assert b"Risk owner" in response.content
    assert b"Audit trail" not in response.content


def test_query_count_does_not_grow_with_data(client_for, isms_admin) -> None:
    client = client_for("isms_admin")
    client.get(reverse("dashboard"))
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("dashboard"))
    for index in range(30):
        services.create_user(
            actor=isms_admin, username=f"u{index}", password="A-long-enough-passphrase-7", roles=[Role.RISK_OWNER]
        )
        services.save_organisation(actor=isms_admin, name=f"Org {index}")
    with CaptureQueriesContext(connection) as large:
        client.get(reverse("dashboard"))
    assert len(large) == len(small)


def _soa_figures(html: str, edition: str) -> dict:
    """The SoA panel's figures for one edition, read from the rendered HTML."""
    block = html.split(f"<h3>ISO/IEC 27001:{edition}</h3>", 1)[1].split("<h3>", 1)[0]

    def figure(name: str) -> str:
        return re.search(rf'data-figure="soa-{edition}-{name}">([^<]*)<', block).group(1).strip()

    applicable, total = (int(n) for n in figure("applicable").split(" / "))
    sections = {
        ref: (int(implemented), int(applicable_in_section))
        for ref, implemented, applicable_in_section in re.findall(
            r"<tr><td>(\S+) [^<]*</td><td>(\d+) / (\d+)</td>", block
        )
    }
    return {
        "applicable": applicable,
        "total": total,
        "implemented": int(figure("implemented")),
        "without_owner": int(figure("without-owner")),
        "review_needed": int(figure("review")),
        "sections": sections,
    }


def _soa_figures_from_database(edition: str) -> dict:
    from controls.models import Control, SoAEntry

    entries = SoAEntry.objects.filter(control__edition=edition)
    applicable = entries.filter(applicable=True)
    implemented = applicable.filter(implementation_status="implemented")
    sections = dict.fromkeys(Control.objects.filter(edition=edition).values_list("section__ref", flat=True))
    return {
        "applicable": applicable.count(),
        "total": entries.count(),
        "implemented": implemented.count(),
        "without_owner": applicable.filter(owner__isnull=True).count(),
        "review_needed": entries.filter(review_needed=True).count(),
        "sections": {
            ref: (
                implemented.filter(control__section__ref=ref).count(),
                applicable.filter(control__section__ref=ref).count(),
            )
            for ref in sections
        },
    }


def test_soa_panel_figures_match_the_database(catalogue, client_for, compliance_officer, risk_owner) -> None:
    from controls import services as soa
    from controls.models import SoAEntry
    from controls.services import transition_2013_to_2022
    from tests.controls.edits import edit_entry, soa_entry

    def edit(edition: str, ref: str, **changes) -> None:
        edit_entry(compliance_officer, soa_entry(edition, ref), **changes)

    # 2013: A.5.1.1 + A.5.1.2 both implemented (merged into 2022 5.1), A.12.4.1 implemented with an
    # owner (one of three sources of 8.15), A.11.1.6 excluded.
    edit("2013", "A.5.1.1", implementation_status="implemented", owner=risk_owner)
    edit("2013", "A.5.1.2", implementation_status="implemented")
    edit("2013", "A.12.4.1", implementation_status="implemented", owner=compliance_officer)
    edit("2013", "A.11.1.6", applicable=False, justification="No delivery area")
    transition_2013_to_2022(actor=compliance_officer)
    # 2022: confirm two reviews, implement three controls, exclude two (one of them implemented:
    # an excluded control does not count as implemented), give owners.
    for ref in ("5.1", "8.15"):
        current = SoAEntry.objects.get(control__edition="2022", control__ref=ref)
        soa.confirm_review(actor=compliance_officer, entry=current, expected_version=current.row_version)
    edit("2022", "8.1", implementation_status="implemented", owner=risk_owner)
    edit("2022", "8.2", implementation_status="implemented")
    edit("2022", "6.3", implementation_status="implemented", owner=risk_owner)
    edit("2022", "7.4", applicable=False, justification="No premises", implementation_status="implemented")
    edit("2022", "7.5", applicable=False, justification="Cloud only", owner=risk_owner)

    html = client_for("compliance_officer").get(reverse("dashboard")).content.decode()
    shown = {edition: _soa_figures(html, edition) for edition in ("2022", "2013")}
    assert shown == {edition: _soa_figures_from_database(edition) for edition in ("2022", "2013")}
    # The same state, stated by hand.
    assert shown["2013"] | {"sections": None} == {
        "applicable": 113,
        "total": 114,
        "implemented": 3,
        "without_owner": 111,
        "review_needed": 0,
        "sections": None,
    }
    assert shown["2013"]["sections"]["A.5"] == (2, 2)
    assert shown["2013"]["sections"]["A.11"] == (0, 14)
    assert shown["2022"]["total"] == 93
    assert shown["2022"]["applicable"] == 91
    assert shown["2022"]["review_needed"] == 35 - 2
    assert shown["2022"]["sections"]["5"] == (1, 37)
    assert shown["2022"]["sections"]["6"] == (1, 8)
    assert shown["2022"]["sections"]["7"] == (0, 12)
    assert shown["2022"]["sections"]["8"] == (2, 34)
