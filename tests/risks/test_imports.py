"""Imports of assets and risks: every row or none, a report naming row and field, hostile files refused."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from risks.models import Asset, Risk
from risks.services.imports import import_assets, import_risks

pytestmark = pytest.mark.django_db

ASSET_HEADER = "name,asset_type,owner,confidentiality,integrity,availability,location,description\n"


def upload(name: str, content: bytes | str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode() if isinstance(content, str) else content)


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def errors(report) -> list[tuple[int, str]]:
    return [(error.row, error.field) for error in report.errors]


def test_assets_csv_imports_every_row(compliance_officer) -> None:
    csv = (
        "\ufeff"
        + ASSET_HEADER
        + (  # a byte-order mark, as Excel writes it
            "Payroll DB,information,compliance_officer,5,4,3,DC1,Salaries\n"
            "Laptop fleet,hardware,compliance_officer,3,3,2,,\n"
            ",,,,,,,\n"  # blank lines are skipped
        )
    )
    report = import_assets(actor=compliance_officer, upload=upload("assets.csv", csv))
    assert report.ok, report.errors
    assert report.created == 2
    assert set(Asset.objects.values_list("name", flat=True)) == {"Payroll DB", "Laptop fleet"}


def test_one_bad_row_saves_nothing_and_names_row_and_field(compliance_officer) -> None:
    Asset.objects.create(
        name="Existing", asset_type="software", owner=compliance_officer, confidentiality=3, integrity=3, availability=3
    )
    csv = ASSET_HEADER + (
        "CRM,software,compliance_officer,3,3,3,,\n"
        "Backups,hardware,compliance_officer,9,3,3,,\n"  # row 3: outside 1-5
        "Badge system,hardware,nobody,3,3,3,,\n"  # row 4: unknown owner
        "Kiosk,spaceship,compliance_officer,3,x,3,,\n"  # row 5: bad type and a non-number
    )
    report = import_assets(actor=compliance_officer, upload=upload("assets.csv", csv))
    assert not report.ok
    assert report.created == 0
    assert (3, "confidentiality") in errors(report)
    assert (4, "owner") in errors(report)
    assert (5, "integrity") in errors(report)
    assert list(Asset.objects.values_list("name", flat=True)) == ["Existing"]


def test_duplicate_names_in_one_file_are_refused(compliance_officer) -> None:
    csv = ASSET_HEADER + "CRM,software,compliance_officer,3,3,3,,\nCRM,software,compliance_officer,3,3,3,,\n"
    report = import_assets(actor=compliance_officer, upload=upload("assets.csv", csv))
    assert [error.row for error in report.errors] == [3]
    assert not Asset.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("assets.csv", ASSET_HEADER.encode() + b"Caf\xe9,software,compliance_officer,3,3,3,,\n", "not UTF-8"),
        ("assets.xlsx", b"name,asset_type\nthis is text, not a workbook\n", "not a readable XLSX"),
        ("assets.xlsx", b"PK\x03\x04" + b"\x00" * 200, "not a readable XLSX"),
        ("assets.csv", ASSET_HEADER, "no data rows"),
        ("assets.csv", b"", "no data rows"),
    ],
)
def test_unreadable_or_empty_files_are_refused(compliance_officer, name, content, message) -> None:
    report = import_assets(actor=compliance_officer, upload=upload(name, content))
    assert errors(report) == [(1, "file")]
    assert message in report.errors[0].message
    assert not Asset.objects.exists()


def test_unknown_columns_are_named(compliance_officer) -> None:
    csv = "name,asset_type,owner,confidentiality,integrity,availability,colour\nCRM,software,x,1,1,1,red\n"
    report = import_assets(actor=compliance_officer, upload=upload("assets.csv", csv))
    assert errors(report) == [(2, "colour")]


def test_risks_from_xlsx_with_assets_controls_and_scores(compliance_officer, risk_owner, catalogue) -> None:
    Asset.objects.create(
        name="Payroll DB",
        asset_type="information",
        owner=compliance_officer,
        confidentiality=5,
        integrity=4,
        availability=3,
    )
    header = [
        "reference",
        "title",
        "owner",
        "assets",
        "cia",
        "inherent_likelihood",
        "inherent_impact",
        "treatment",
        "controls",
        "residual_likelihood",
        "residual_impact",
        "next_review",
    ]
    rows = [
        header,
        [
            "R-0100",
            "Payroll leak",
            "risk_owner",
            "Payroll DB",
            "CI",
            4,
            5,
            "modify",
            "2022:8.24; 2013:A.10.1.1",
            2,
            3,
            "2027-01-31",
        ],
        ["", "Supplier outage", "risk_owner", "", "A", 3, 3, "share", "", "", "", ""],
    ]
    report = import_risks(actor=compliance_officer, upload=upload("risks.xlsx", xlsx(rows)))
    assert report.ok, report.errors
    risk = Risk.objects.get(reference="R-0100")
    assert risk.inherent_level == "critical"
    assert risk.residual_level == "medium"
    assert risk.affected_cia == "CI"
    assert {f"{c.edition}:{c.ref}" for c in risk.controls.all()} == {"2022:8.24", "2013:A.10.1.1"}
    assert [a.name for a in risk.assets.all()] == ["Payroll DB"]
    assert risk.next_review.isoformat() == "2027-01-31"
    assert Risk.objects.filter(title="Supplier outage").get().reference  # numbered automatically


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        ({"inherent_likelihood": 9}, "inherent_likelihood"),
        ({"owner": "compliance_officer"}, "owner"),  # not in the Risk owner role
        ({"controls": "2022:99.1"}, "controls"),
        ({"assets": "Nowhere"}, "assets"),
        ({"treatment": "ignore"}, "treatment"),
        ({"cia": "CX"}, "cia"),
        ({"next_review": "31/01/2027"}, "next_review"),
        ({"title": ""}, "title"),
        ({"reference": "R-0001"}, "reference"),  # already taken by the first row
    ],
)
def test_one_bad_risk_row_saves_no_risk(compliance_officer, risk_owner, catalogue, cells, field) -> None:
    good = {
        "reference": "R-0001",
        "title": "Good",
        "owner": "risk_owner",
        "inherent_likelihood": 2,
        "inherent_impact": 2,
        "treatment": "retain",
    }
    bad = {**good, "reference": "", "title": "Bad", **cells}
    header = list(good)
    header += [name for name in bad if name not in header]
    rows = [header, [good.get(h, "") for h in header], [bad.get(h, "") for h in header]]
    report = import_risks(actor=compliance_officer, upload=upload("risks.xlsx", xlsx(rows)))
    assert errors(report) == [(3, field)], report.errors
    assert not Risk.objects.exists()


def test_the_import_page_reports_problems_and_keeps_data(client_for, compliance_officer) -> None:
    Asset.objects.create(
        name="Existing", asset_type="software", owner=compliance_officer, confidentiality=3, integrity=3, availability=3
    )
    client = client_for("compliance_officer")
    url = reverse("risks:import", args=["assets"])
    bad = ASSET_HEADER + "CRM,software,compliance_officer,3,3,3,,\nBackups,hardware,compliance_officer,0,3,3,,\n"
    response = client.post(url, {"file": upload("assets.csv", bad)})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was imported: 1 problem in 2 rows" in html
    assert "<td>3</td><td>confidentiality</td>" in html
    assert Asset.objects.count() == 1
    good = ASSET_HEADER + "CRM,software,compliance_officer,3,3,3,,\n"
    response = client.post(url, {"file": upload("assets.csv", good)})
    assert response.status_code == 302
    assert Asset.objects.count() == 2


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [("big.csv", 5 * 1024 * 1024 + 1, "larger than 5 MB"), ("assets.exe", 10, "Upload a .csv or .xlsx file")],
)
def test_the_import_page_refuses_oversized_and_other_files(client_for, name, size, message) -> None:
    response = client_for("compliance_officer").post(
        reverse("risks:import", args=["assets"]), {"file": upload(name, b"a" * size)}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Asset.objects.exists()


@pytest.mark.parametrize("persona", ["risk_owner", "internal_auditor", "external_auditor"])
def test_readers_cannot_import(client_for, persona) -> None:
    response = client_for(persona).post(
        reverse("risks:import", args=["assets"]),
        {"file": upload("assets.csv", ASSET_HEADER + "CRM,software,risk_owner,3,3,3,,\n")},
    )
    assert response.status_code == 403
    assert not Asset.objects.exists()
