"""Integrity of published SoA versions (database triggers, snapshot hash checked on every read) and
clauses 4-10: editing through the page, refusals, conflicts, statuses in the CSV and XLSX exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.test import APIClient

from controls import services
from controls.models import ClauseEntry, SoAVersion
from controls.reports import soa_csv, soa_view_for, soa_xlsx
from ismsapp.models import AuditEntry, GeneratedReport, User
from ismsapp.services.reports import build_report, request_report

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
TABLE = SoAVersion._meta.db_table
ALTERED = "was altered after publication"
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the immutability triggers exist on PostgreSQL only"
)


def publish(actor: User, edition: str = "2022") -> SoAVersion:
    return services.publish_soa(actor=actor, edition=edition, approver=actor, approved_on=date(2026, 1, 5))


def alter_snapshot(version: SoAVersion) -> None:
    """Change a published snapshot behind the application's back, as a database superuser could:
    on PostgreSQL the immutability trigger is dropped first (inside the test's transaction)."""
    snapshot = version.snapshot
    row = next(r for r in snapshot["controls"] if r["ref"] == "5.1")
    row["implementation_status"] = "implemented"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER controls_soaversion_no_update ON {TABLE}")
        cursor.execute(f"UPDATE {TABLE} SET snapshot = %s WHERE id = %s", [json.dumps(snapshot), version.pk])


def refusals(version: SoAVersion) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(
            action=AuditEntry.Action.ACCESS_DENIED, object_type="controls.soaversion", object_pk=str(version.pk)
        ).order_by("seq")
    )


# --- published versions cannot be changed ----------------------------------------------------


@postgresql_only
@pytest.mark.parametrize(
    "sql", [f"UPDATE {TABLE} SET note = 'rewritten' WHERE id = %s", f"DELETE FROM {TABLE} WHERE id = %s"]
)
def test_database_refuses_raw_update_and_delete_of_a_published_version(catalogue, compliance_officer, sql) -> None:
    version = publish(compliance_officer)
    refused = pytest.raises(IntegrityError, match="published SoA version 1 of edition 2022 is immutable")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [version.pk])
    stored = SoAVersion.objects.get(pk=version.pk)
    assert (stored.note, stored.snapshot_sha256) == ("", version.snapshot_sha256)


def test_model_and_queryset_refuse_changes_naming_the_version_field(catalogue, compliance_officer) -> None:
    version = publish(compliance_officer)
    version.note = "changed"
    expected = ["Published version 1 is immutable; edit the working draft and publish a new version."]
    for attempt in (version.save, version.delete):
        with pytest.raises(ValidationError) as error:
            attempt()
        assert error.value.message_dict == {"version": expected}
    for attempt in (
        lambda: SoAVersion.objects.filter(pk=version.pk).update(note="changed"),
        lambda: SoAVersion.objects.filter(pk=version.pk).delete(),
    ):
        with pytest.raises(ValidationError) as error:
            attempt()
        assert "version" in error.value.message_dict
    assert SoAVersion.objects.get(pk=version.pk).note == ""


# --- an altered snapshot is detected on every read --------------------------------------------


def test_intact_version_is_shown_and_exported(catalogue, client_for, compliance_officer) -> None:
    version = publish(compliance_officer)
    version.refresh_from_db()  # the digest holds for the snapshot as the database returns it
    assert version.snapshot_intact()
    client = client_for("compliance_officer")
    assert client.get(reverse("controls:soa", args=["2022"]), {"version": 1}).status_code == 200
    assert client.get(reverse("controls:soa_export", args=["2022", "csv"]), {"version": 1}).status_code == 200
    assert refusals(version) == []


def test_altered_version_is_refused_by_pages_and_exports(catalogue, client_for, compliance_officer) -> None:
    version = publish(compliance_officer)
    alter_snapshot(version)
    client = client_for("compliance_officer")
    attempts = {
        "page": client.get(reverse("controls:soa", args=["2022"]), {"version": 1}),
        "diff": client.get(reverse("controls:soa_diff", args=["2022"]), {"from": "1", "to": "draft"}),
        "csv": client.get(reverse("controls:soa_export", args=["2022", "csv"]), {"version": 1}),
        "xlsx": client.get(reverse("controls:soa_export", args=["2022", "xlsx"]), {"version": 1}),
        # The draft's workbook holds a sheet per published version: refused too.
        "xlsx of the draft": client.get(reverse("controls:soa_export", args=["2022", "xlsx"])),
        "pdf": client.post(reverse("controls:soa_export", args=["2022", "pdf"]), {"version": "1"}),
    }
    for name, response in attempts.items():
        assert response.status_code == 409, name
        assert "Content-Disposition" not in response, name
        assert f"Published version 1 of the 2022 SoA {ALTERED}" in response.content.decode(), name
    assert not GeneratedReport.objects.exists()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.DOWNLOAD).exists()
    recorded = refusals(version)
    assert len(recorded) == len(attempts)
    assert recorded[0].actor == User.objects.get(username="compliance_officer")
    assert recorded[0].additional_data["reason"] == "published SoA version altered"
    assert recorded[0].additional_data["recorded_sha256"] == version.snapshot_sha256
    # The working draft is not affected.
    assert client.get(reverse("controls:soa", args=["2022"])).status_code == 200
    assert client.get(reverse("controls:soa_export", args=["2022", "csv"])).status_code == 200


def test_altered_version_is_refused_by_the_api(catalogue, compliance_officer) -> None:
    version = publish(compliance_officer)
    alter_snapshot(version)
    client = APIClient()
    client.force_authenticate(compliance_officer)
    for response in (
        client.get(f"/api/soa-versions/{version.pk}/"),
        client.get("/api/soa-versions/diff/", {"edition": "2022", "from_version": "1", "to_version": "draft"}),
    ):
        assert response.status_code == 409
        assert ALTERED in response.json()["version"][0]
        assert "snapshot" not in response.json()
    assert len(refusals(version)) == 2


def test_altered_version_is_refused_by_the_command_and_the_background_pdf(
    catalogue, tmp_path, compliance_officer
) -> None:
    version = publish(compliance_officer)
    report = request_report(actor=compliance_officer, kind="soa_pdf", params={"edition": "2022", "version": 1})
    alter_snapshot(version)
    out = tmp_path / "soa.csv"
    with pytest.raises(CommandError, match=ALTERED):
        call_command("export_soa", "--edition", "2022", "--format", "csv", "--out", str(out), "--version", "1")
    assert not out.exists()
    built = build_report(str(report.pk))
    assert built.status == GeneratedReport.Status.FAILED
    assert ALTERED in built.error
    assert [entry.actor for entry in refusals(version)] == [None, compliance_officer]


# --- clauses 4-10 -----------------------------------------------------------------------------


def clause(ref: str, edition: str = "2022") -> ClauseEntry:
    return ClauseEntry.objects.select_related("clause").get(clause__edition=edition, clause__ref=ref)


def clause_form(target: ClauseEntry, **changes) -> dict:
    return {
        "implementation_status": target.implementation_status,
        "owner": target.owner_id or "",
        "implementation_notes": target.implementation_notes,
        "last_reviewed": target.last_reviewed or "",
        "row_version": target.row_version,
        **changes,
    }


def test_clause_inline_edit_over_htmx_persists(catalogue, client_for, risk_owner) -> None:
    target = clause("6.1.2")
    client = client_for("compliance_officer")
    url = reverse("controls:clause_entry_edit", args=[target.pk])
    form = client.get(url, **HTMX)
    assert form.status_code == 200
    assert b"<html" not in form.content
    saved = client.post(
        url,
        clause_form(
            target, implementation_status="implemented", owner=risk_owner.pk, implementation_notes="Risk method v2"
        ),
        **HTMX,
    )
    assert saved.status_code == 200
    assert b'id="clause-6.1.2"' in saved.content
    assert b"Implemented" in saved.content
    assert b"<html" not in saved.content
    target.refresh_from_db()
    assert (target.implementation_status, target.owner, target.implementation_notes, target.row_version) == (
        "implemented",
        risk_owner,
        "Risk method v2",
        1,
    )
    page = client.get(reverse("controls:soa", args=["2022"])).content.decode()
    assert "Risk method v2" in page


def test_clause_edit_without_htmx_persists(catalogue, client_for) -> None:
    target = clause("9.2", "2013")
    client = client_for("compliance_officer")
    url = reverse("controls:clause_entry_edit", args=[target.pk])
    assert b"<html" in client.get(url).content
    response = client.post(url, clause_form(target, implementation_status="planned", last_reviewed="2026-02-01"))
    assert response.status_code == 302
    assert response["Location"] == reverse("controls:soa", args=["2013"]) + "#clause-9.2"
    target.refresh_from_db()
    assert (target.implementation_status, target.last_reviewed) == ("planned", date(2026, 2, 1))


@pytest.mark.parametrize("extra", [HTMX, {}])
def test_clause_bad_status_is_refused_naming_the_field(catalogue, client_for, extra) -> None:
    target = clause("5.1")
    response = client_for("compliance_officer").post(
        reverse("controls:clause_entry_edit", args=[target.pk]),
        clause_form(target, implementation_status="sort of"),
        **extra,
    )
    assert response.status_code == 400
    assert "implementation_status" in response.context["form"].errors
    assert "Implementation status: Select a valid choice" in response.content.decode()
    target.refresh_from_db()
    assert (target.implementation_status, target.row_version) == ("not_started", 0)


def test_clause_service_refuses_a_bad_status_naming_the_field(catalogue, compliance_officer) -> None:
    target = clause("5.1")
    with pytest.raises(ValidationError) as error:
        services.update_clause_entry(
            actor=compliance_officer, entry=target, expected_version=0, implementation_status="sort of", owner=None
        )
    assert list(error.value.message_dict) == ["implementation_status"]
    target.refresh_from_db()
    assert target.row_version == 0


def test_second_clause_editor_gets_a_conflict(catalogue, client_for, second_officer) -> None:
    target = clause("7.2")
    stale = clause_form(target)
    url = reverse("controls:clause_entry_edit", args=[target.pk])
    first = client_for("compliance_officer").post(url, clause_form(target, implementation_status="implemented"), **HTMX)
    assert first.status_code == 200
    other = Client()
    other.force_login(second_officer)
    second = other.post(url, {**stale, "implementation_status": "planned"}, **HTMX)
    assert second.status_code == 409
    assert b"changed this row" in second.content
    assert b"compliance_officer" in second.content
    target.refresh_from_db()
    assert (target.implementation_status, target.row_version) == ("implemented", 1)


def set_clause_status(actor: User, ref: str, status: str, notes: str) -> None:
    target = clause(ref)
    services.update_clause_entry(
        actor=actor,
        entry=target,
        expected_version=target.row_version,
        implementation_status=status,
        owner=None,
        implementation_notes=notes,
    )


def csv_clauses(content: bytes) -> dict[str, dict[str, str]]:
    """The clauses table of the CSV (after the controls table and a blank line), by clause id."""
    _, clauses_table = content.decode("utf-8-sig").split("\r\n\r\n")
    return {row["Clause"]: row for row in csv.DictReader(io.StringIO(clauses_table))}


def xlsx_clauses(content: bytes, sheet_name: str) -> dict[str, dict[str, str]]:
    sheet = load_workbook(io.BytesIO(content))[sheet_name]
    rows = list(sheet.iter_rows(values_only=True))
    assert sheet.auto_filter.ref == f"A1:F{len(rows)}"
    return {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}


def test_clause_statuses_appear_in_csv_and_xlsx_as_drafted_and_as_published(catalogue, compliance_officer) -> None:
    set_clause_status(compliance_officer, "9.3", "implemented", "Published review")
    publish(compliance_officer)
    set_clause_status(compliance_officer, "9.3", "planned", "=Draft review")
    draft, published = soa_view_for("2022", None), soa_view_for("2022", 1)
    all_refs = {row.ref for row in draft.clauses}

    for content in (soa_csv(draft), soa_csv(published)):
        assert set(csv_clauses(content)) == all_refs
    assert csv_clauses(soa_csv(published))["9.3"]["Implementation status"] == "Implemented"
    assert csv_clauses(soa_csv(published))["9.3"]["Implementation notes"] == "Published review"
    drafted = csv_clauses(soa_csv(draft))["9.3"]
    assert (drafted["Implementation status"], drafted["Implementation notes"]) == ("Planned", "'=Draft review")
    assert csv_clauses(soa_csv(draft))["9"]["Implementation status"] == ""  # a heading has no status

    workbook = soa_xlsx("2022", draft)
    assert load_workbook(io.BytesIO(workbook)).sheetnames == [
        "Working draft",
        "Clauses draft",
        "Version 1",
        "Clauses v1",
    ]
    for sheet, status, notes in (
        ("Clauses draft", "Planned", "'=Draft review"),
        ("Clauses v1", "Implemented", "Published review"),
    ):
        rows = xlsx_clauses(workbook, sheet)
        assert set(rows) == all_refs
        assert (rows["9.3"]["Implementation status"], rows["9.3"]["Implementation notes"]) == (status, notes)
