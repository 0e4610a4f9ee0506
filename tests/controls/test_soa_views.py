"""SoA pages: the whole table in constant queries, inline edits over htmx, versions, exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from controls import services
from controls.models import Control, SoAEntry, SoAVersion
from controls.reports import soa_pdf, soa_view_for
from ismsapp.models import AuditEntry, GeneratedReport
from ismsapp.services.reports import build_report
from tests.conftest import confirm_identity

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def entry(ref: str, edition: str = "2022") -> SoAEntry:
    return SoAEntry.objects.get(control__edition=edition, control__ref=ref)


def form_data(target: SoAEntry, **changes) -> dict:
    data = {
        "applicable": "yes" if target.applicable else "no",
        "inclusion_reasons": target.inclusion_reasons,
        "justification": target.justification,
        "implementation_status": target.implementation_status,
        "owner": target.owner_id or "",
        "implementation_notes": target.implementation_notes,
        "last_reviewed": target.last_reviewed or "",
        "row_version": target.row_version,
    }
    data.update(changes)
    return data


def test_page_lists_every_control_in_the_same_number_of_queries_for_both_editions(catalogue, client_for) -> None:
    client = client_for("compliance_officer")
    counts = {}
    for edition, total in (("2022", 93), ("2013", 114)):
        client.get(reverse("controls:soa", args=[edition]))
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("controls:soa", args=[edition]))
        assert response.status_code == 200
        html = response.content.decode()
        refs = Control.objects.filter(edition=edition).values_list("ref", flat=True)
        assert all(f'id="control-{ref}"' in html for ref in refs)
        assert response.context["shown"] == total
        counts[edition] = len(queries)
    assert counts["2022"] == counts["2013"]


def test_filters(catalogue, client_for, compliance_officer) -> None:
    services.update_soa_entry(
        actor=compliance_officer,
        entry=entry("7.5"),
        expected_version=0,
        applicable=False,
        inclusion_reasons=[],
        justification="Cloud only",
        implementation_status="not_started",
        owner=compliance_officer,
    )
    client = client_for("risk_owner")
    url = reverse("controls:soa", args=["2022"])
    assert client.get(url, {"applicability": "excluded"}).context["shown"] == 1
    assert client.get(url, {"section": "8"}).context["shown"] == 34
    assert client.get(url, {"owner": "compliance_officer"}).context["shown"] == 1
    assert client.get(url, {"owner": "none"}).context["shown"] == 92
    assert client.get(url, {"attribute": "Detective"}).context["shown"] > 0
    assert client.get(url, {"q": "logging"}).context["shown"] >= 1
    bad = client.get(url, {"status": "nonsense"})
    assert bad.status_code == 200
    assert "status" in bad.context["form"].errors


def test_inline_edit_round_trip(catalogue, client_for) -> None:
    client = client_for("compliance_officer")
    target = entry("7.5")
    form = client.get(reverse("controls:soa_entry_edit", args=[target.pk]), **HTMX)
    assert form.status_code == 200
    assert b"<form" in form.content
    assert b"<html" not in form.content  # a fragment for htmx
    saved = client.post(
        reverse("controls:soa_entry_edit", args=[target.pk]),
        form_data(target, applicable="no", justification="Hosted in the cloud"),
        **HTMX,
    )
    assert saved.status_code == 200
    assert b"Excluded" in saved.content
    assert b"Hosted in the cloud" in saved.content
    target.refresh_from_db()
    assert (target.applicable, target.justification, target.row_version) == (False, "Hosted in the cloud", 1)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"applicable": "no", "justification": ""}, "justification", "justification is required"),
        ({"implementation_status": "finished"}, "implementation_status", "not one of the available choices"),
        ({"owner": "999999"}, "owner", "must be an active user"),
        ({"inclusion_reasons": ["vibes"]}, "inclusion_reasons", "not one of the available choices"),
        ({"last_reviewed": "31/31/2026"}, "last_reviewed", "valid date"),
        ({"row_version": ""}, "row_version", "required"),
    ],
)
def test_bad_input_is_refused_with_the_field_named(catalogue, client_for, changes, field, message) -> None:
    target = entry("5.1")
    response = client_for("compliance_officer").post(
        reverse("controls:soa_entry_edit", args=[target.pk]), form_data(target, **changes), **HTMX
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors
    assert message in " ".join(errors[field]).lower()
    target.refresh_from_db()
    assert target.row_version == 0


def test_user_text_is_escaped_in_rows(catalogue, client_for) -> None:
    target = entry("7.5")
    client = client_for("compliance_officer")
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    client.post(
        reverse("controls:soa_entry_edit", args=[target.pk]),
        form_data(target, applicable="no", justification=hostile),
        **HTMX,
    )
    for response in (
        client.get(reverse("controls:soa", args=["2022"])),
        client.get(reverse("controls:soa_entry_row", args=[target.pk]), **HTMX),
    ):
        html = response.content.decode()
        assert "<script>alert(1)" not in html
        assert 'onerror="alert(2)"' not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_second_editor_gets_a_conflict_not_an_overwrite(catalogue, client_for, second_officer) -> None:
    target = entry("5.2")
    stale = form_data(target)
    first = client_for("compliance_officer").post(
        reverse("controls:soa_entry_edit", args=[target.pk]),
        form_data(target, implementation_status="implemented"),
        **HTMX,
    )
    assert first.status_code == 200
    other = Client()
    other.force_login(second_officer)
    second = other.post(
        reverse("controls:soa_entry_edit", args=[target.pk]), {**stale, "implementation_status": "planned"}, **HTMX
    )
    assert second.status_code == 409
    assert b"changed this row" in second.content
    assert b"compliance_officer" in second.content
    target.refresh_from_db()
    assert target.implementation_status == "implemented"


def test_edit_works_without_htmx(catalogue, client_for) -> None:
    target = entry("5.3")
    client = client_for("compliance_officer")
    page = client.get(reverse("controls:soa_entry_edit", args=[target.pk]))
    assert b"<html" in page.content
    response = client.post(
        reverse("controls:soa_entry_edit", args=[target.pk]), form_data(target, implementation_status="planned")
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#control-5.3")


def test_read_only_roles_cannot_edit(catalogue, client_for) -> None:
    target = entry("5.1")
    response = client_for("internal_auditor").post(
        reverse("controls:soa_entry_edit", args=[target.pk]), form_data(target, implementation_status="implemented")
    )
    assert response.status_code == 403
    page = client_for("internal_auditor").get(reverse("controls:soa", args=["2022"]))
    assert reverse("controls:soa_entry_edit", args=[target.pk]).encode() not in page.content


def test_published_version_is_shown_read_only(catalogue, client_for, compliance_officer) -> None:
    version = services.publish_soa(
        actor=compliance_officer, edition="2022", approver=compliance_officer, approved_on=date(2026, 1, 2)
    )
    response = client_for("compliance_officer").get(reverse("controls:soa", args=["2022"]), {"version": version.number})
    assert response.status_code == 200
    assert not response.context["can_edit"]
    assert b"soa/entries/" not in response.content  # no edit or row links
    assert b"Published version 1" in response.content
    missing = client_for("compliance_officer").get(reverse("controls:soa", args=["2022"]), {"version": 7})
    assert missing.status_code == 404


def test_publish_form_errors_name_the_field(catalogue, client_for) -> None:
    response = confirm_identity(client_for("compliance_officer")).post(
        reverse("controls:soa_publish", args=["2022"]), {"approver": "", "approved_on": "2026-01-01"}
    )
    assert response.status_code == 400
    assert "approver" in response.context["form"].errors
    assert b"An approver is required" in response.content
    assert not SoAVersion.objects.exists()


def test_publish_and_compare(catalogue, client_for, compliance_officer) -> None:
    client = confirm_identity(client_for("compliance_officer"))
    response = client.post(
        reverse("controls:soa_publish", args=["2022"]),
        {"approver": compliance_officer.pk, "approved_on": "2026-02-01", "note": "ok"},
    )
    assert response.status_code == 302
    services.update_soa_entry(
        actor=compliance_officer,
        entry=entry("8.15"),
        expected_version=0,
        applicable=True,
        inclusion_reasons=[],
        justification="",
        implementation_status="implemented",
        owner=None,
    )
    diff = client.get(reverse("controls:soa_diff", args=["2022"]), {"from": 1, "to": "draft"})
    assert [c.ref for c in diff.context["changes"]] == ["8.15"]
    assert b"implementation_status" in diff.content


def test_csv_export_has_every_control_and_neutralises_formulas(catalogue, client_for, compliance_officer) -> None:
    services.update_soa_entry(
        actor=compliance_officer,
        entry=entry("5.1"),
        expected_version=0,
        applicable=True,
        inclusion_reasons=[],
        justification="",
        implementation_status="planned",
        owner=None,
        implementation_notes="=cmd|' /C calc'!A0",
    )
    response = client_for("risk_owner").get(reverse("controls:soa_export", args=["2022", "csv"]))
    assert response["Content-Disposition"] == 'attachment; filename="soa-2022-draft.csv"'
    # The controls table, a blank line, then the clauses table with its own header.
    controls_table, clauses_table = response.content.decode("utf-8-sig").split("\r\n\r\n")
    assert clauses_table.startswith("Clause,Title,Implementation status,")
    rows = list(csv.DictReader(io.StringIO(controls_table)))
    assert [row["Control"] for row in rows] == list(
        Control.objects.filter(edition="2022").order_by("position").values_list("ref", flat=True)
    )
    assert rows[0]["Implementation notes"] == "'=cmd|' /C calc'!A0"
    assert AuditEntry.objects.filter(action=AuditEntry.Action.DOWNLOAD).exists()


def test_xlsx_export_has_a_sheet_per_version_with_filters(catalogue, client_for, compliance_officer) -> None:
    for day in (1, 2):
        services.publish_soa(
            actor=compliance_officer, edition="2013", approver=compliance_officer, approved_on=date(2026, 1, day)
        )
    response = client_for("compliance_officer").get(
        reverse("controls:soa_export", args=["2013", "xlsx"]), {"version": 1}
    )
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [
        "Version 1",
        "Clauses v1",
        "Working draft",
        "Clauses draft",
        "Version 2",
        "Clauses v2",
    ]
    sheet = workbook["Version 1"]
    assert sheet.auto_filter.ref == "A1:K115"
    ids = [sheet.cell(row=r, column=1).value for r in range(2, sheet.max_row + 1)]
    assert ids == list(Control.objects.filter(edition="2013").order_by("position").values_list("ref", flat=True))


def test_pdf_is_rendered_in_the_background_and_lists_every_control(catalogue, client_for, compliance_officer) -> None:
    from pypdf import PdfReader

    services.publish_soa(
        actor=compliance_officer, edition="2022", approver=compliance_officer, approved_on=date(2026, 1, 2)
    )
    client = client_for("compliance_officer")
    response = client.post(reverse("controls:soa_export", args=["2022", "pdf"]), {"version": "1"})
    report = GeneratedReport.objects.get()
    assert response["Location"] == reverse("report_status", args=[report.pk])
    assert report.status == "queued"
    build_report(str(report.pk))  # what the Celery task runs
    report.refresh_from_db()
    assert report.status == "done"
    download = client.get(reverse("report_download", args=[report.pk]))
    assert download["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(download.content)).pages)
    assert "Approved by" in text
    assert "Page 1 of" in text
    for ref in Control.objects.filter(edition="2022").values_list("ref", flat=True):
        assert ref in text
    # Another user cannot fetch it, even with its id.
    assert client_for("isms_admin").get(reverse("report_download", args=[report.pk])).status_code == 404


def test_pdf_renderer_refuses_outside_resources(catalogue, compliance_officer, settings, tmp_path) -> None:
    from ismsapp.pdf import StaticOnlyFetcher

    fetcher = StaticOnlyFetcher()
    assert fetcher.fetch("https://isms.invalid/static/css/pdf.css").read().startswith(b"/*")
    for url in (
        "file:///etc/passwd",
        "http://127.0.0.1:8000/",
        "https://example.com/static/css/pdf.css",
        "https://isms.invalid/static/../../ismsapp/settings/base.py",
        "https://isms.invalid/etc/passwd",
    ):
        with pytest.raises(ValueError, match=r"refused|not found"):
            fetcher.fetch(url)
    services.update_soa_entry(
        actor=compliance_officer,
        entry=entry("5.1"),
        expected_version=0,
        applicable=True,
        inclusion_reasons=[],
        justification="",
        implementation_status="planned",
        owner=None,
        implementation_notes='<img src="file:///etc/passwd"><link rel=stylesheet href="http://x">',
    )
    pdf = soa_pdf(soa_view_for("2022", None))
    assert pdf.startswith(b"%PDF")


def test_export_command(catalogue, tmp_path, compliance_officer) -> None:
    for fmt in ("csv", "xlsx", "pdf"):
        out = tmp_path / f"soa.{fmt}"
        call_command("export_soa", "--edition", "2013", "--format", fmt, "--out", str(out), stdout=io.StringIO())
        assert out.stat().st_size > 1000
    with pytest.raises(CommandError, match=r"no published version 3"):
        call_command(
            "export_soa",
            "--edition",
            "2013",
            "--format",
            "csv",
            "--out",
            str(tmp_path / "x"),
            "--version",
            "3",
            stdout=io.StringIO(),
        )


def test_transition_page(catalogue, client_for) -> None:
    client = client_for("compliance_officer")
    response = client.post(reverse("controls:transition"), {})
    assert response.status_code == 302
    assert SoAEntry.objects.filter(control__edition="2022", review_needed=True).count() == 35
    # A second run refuses to replace the rows it just wrote without the confirmation box.
    again = client.post(reverse("controls:transition"), {})
    assert again.status_code == 400
    assert b"already been edited" in again.content


def test_transition_page_offers_published_2013_versions(catalogue, client_for, compliance_officer) -> None:
    from django.db import connection

    services.publish_soa(
        actor=compliance_officer, edition="2013", approver=compliance_officer, approved_on=date(2026, 3, 1)
    )
    client = client_for("compliance_officer")
    page = client.get(reverse("controls:transition"))
    assert b"Version 1, approved 2026-03-01" in page.content
    unknown = client.post(reverse("controls:transition"), {"source_version": "7"})
    assert unknown.status_code == 400
    assert "source_version" in unknown.context["form"].errors
    assert client.post(reverse("controls:transition"), {"source_version": "1"}).status_code == 302
    version = SoAVersion.objects.get(edition="2013", number=1)
    snapshot = version.snapshot
    snapshot["controls"][0]["implementation_status"] = "implemented"
    with connection.cursor() as cursor:  # altered behind the application's back, as a superuser could
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER controls_soaversion_no_update ON controls_soaversion")
        cursor.execute("UPDATE controls_soaversion SET snapshot = %s WHERE id = %s", [json.dumps(snapshot), version.pk])
    altered = client.post(reverse("controls:transition"), {"source_version": "1", "overwrite": "on"})
    assert altered.status_code in (400, 409)
    assert b"altered after publication" in altered.content


def test_catalogue_page_and_search(catalogue, client_for) -> None:
    client = client_for("internal_auditor")
    response = client.get(reverse("controls:catalogue"), {"edition": "2022", "q": "logging"})
    refs = [control.ref for control, _ in response.context["rows"]]
    assert refs == ["8.15"]
    mapped = {c.ref: [m.ref for m in sources] for c, sources in response.context["rows"]}
    assert mapped["8.15"] == ["A.12.4.1", "A.12.4.2", "A.12.4.3"]
