"""The nonconformity and corrective-action register as CSV and XLSX: the page's filters, the
page's visibility (a risk owner only gets the nonconformities touching their risks), and every
text cell neutralised against formula injection like the SoA exports."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.urls import reverse

from audits import services

pytestmark = pytest.mark.django_db
RAISED = date(2026, 3, 4)


@pytest.fixture
def register(compliance_officer, controls_2022, clause_2022, action_owner):
    """A major nonconformity whose statement is a formula with an overdue action, and a minor one."""
    major = services.raise_nonconformity(
        actor=compliance_officer,
        statement='=HYPERLINK("https://evil.example","click")',
        severity="major",
        origin="complaint",
        control=controls_2022[0],
        raised_on=RAISED,
    )
    services.add_corrective_action(
        actor=compliance_officer,
        nonconformity=major,
        description="+cmd|' /C calc'!A0",
        owner=action_owner,
        due_date=RAISED + timedelta(days=5),
    )
    minor = services.raise_nonconformity(
        actor=compliance_officer,
        statement="Visitor log incomplete.",
        severity="minor",
        origin="monitoring",
        clause=clause_2022,
        raised_on=RAISED,
    )
    return major, minor


def csv_tables(content: bytes) -> tuple[list[list[str]], list[list[str]]]:
    text = content.decode("utf-8").lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    blank = rows.index([])
    return rows[:blank], rows[blank + 1 :]


def test_csv_has_both_tables_neutralised_and_filtered(register, client_for):
    major, minor = register
    client = client_for("compliance_officer")
    response = client.get(reverse("audits:register_export", args=["csv"]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    ncs, actions = csv_tables(b"".join(response.streaming_content))
    assert ncs[0][:4] == ["Reference", "Raised on", "Severity", "Status"]
    by_ref = {row[0]: row for row in ncs[1:]}
    assert set(by_ref) == {major.reference, minor.reference}
    assert by_ref[major.reference][5] == '\'=HYPERLINK("https://evil.example","click")'
    assert by_ref[major.reference][-1] == "1"  # one overdue action
    assert actions[0][0] == "Nonconformity"
    assert actions[1][:2] == [major.reference, "'+cmd|' /C calc'!A0"]
    assert actions[1][5] == "Yes"

    only_minor = client.get(reverse("audits:register_export", args=["csv"]), {"severity": "minor"})
    ncs, actions = csv_tables(b"".join(only_minor.streaming_content))
    assert [row[0] for row in ncs[1:]] == [minor.reference]
    assert actions[1:] == []


def test_xlsx_has_two_sheets_with_neutralised_cells(register, client_for):
    from openpyxl import load_workbook

    major, _ = register
    response = client_for("internal_auditor").get(reverse("audits:register_export", args=["xlsx"]), {"overdue": "on"})
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Nonconformities", "Corrective actions"]
    ncs = list(workbook["Nonconformities"].iter_rows(values_only=True))
    assert [row[0] for row in ncs[1:]] == [major.reference]  # the overdue filter
    assert ncs[1][5].startswith("'=")
    actions = list(workbook["Corrective actions"].iter_rows(values_only=True))
    assert actions[1][1].startswith("'+")


def test_exports_follow_the_register_visibility(register, client_for, make_risk, controls_2022):
    major, _ = register
    assert client_for("outsider").get(reverse("audits:register_export", args=["csv"])).status_code == 403
    assert client_for("external_auditor").get(reverse("audits:register_export", args=["xlsx"])).status_code == 403
    risk_owner = client_for("risk_owner")
    ncs, _ = csv_tables(b"".join(risk_owner.get(reverse("audits:register_export", args=["csv"])).streaming_content))
    assert ncs[1:] == []
    make_risk(controls=[controls_2022[0]])
    ncs, actions = csv_tables(
        b"".join(risk_owner.get(reverse("audits:register_export", args=["csv"])).streaming_content)
    )
    assert [row[0] for row in ncs[1:]] == [major.reference]
    assert [row[0] for row in actions[1:]] == [major.reference]


@pytest.mark.parametrize("query", [{"severity": "critical"}, {"requirement": "5\x00"}, {"requirement": "x" * 500}])
def test_bad_filters_are_refused_naming_the_field(register, client_for, query):
    response = client_for("compliance_officer").get(reverse("audits:register_export", args=["csv"]), query)
    assert response.status_code == 400
    assert next(iter(query)) in response.content.decode()


def test_unknown_format_is_not_found(client_for):
    assert client_for("compliance_officer").get(reverse("audits:register_export", args=["pdf"])).status_code == 404
