"""The audit report to management (clause 9.2): a draft rendered in the background at any time,
finalising that freezes the PDF under its SHA-256 (audit trail), and nothing in a finalised
report that can change afterwards: refused by the services and, on PostgreSQL, by the database."""

from __future__ import annotations

import hashlib
import io
from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from audits import services
from audits.models import AuditReport, Nonconformity
from audits.reports import audit_report_pdf
from ismsapp.blobs import blob_path
from ismsapp.models import AuditEntry, GeneratedReport
from ismsapp.services.reports import build_report, request_report

pytestmark = pytest.mark.django_db
RAISED = date(2026, 3, 4)
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the finalised-report triggers exist on PostgreSQL only"
)


def pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return " ".join(" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def reporting_audit(audit_in_progress, internal_auditor, compliance_officer, second_auditor):
    """Every item recorded, one major and one minor nonconformity (the minor one closed), reporting."""
    items = list(audit_in_progress.checklist.order_by("position"))
    results = ["major_nc", "minor_nc"] + ["conforming"] * (len(items) - 2)
    for item, result in zip(items, results, strict=True):
        services.record_checklist_result(
            actor=internal_auditor, item=item, expected_version=0, result=result, notes=f"Notes on {result}."
        )
    major = services.raise_nonconformity(
        actor=internal_auditor,
        checklist_item=items[0],
        statement="Access reviews were not performed in 2025.",
        raised_on=RAISED,
    )
    minor = services.raise_nonconformity(
        actor=internal_auditor, checklist_item=items[1], statement="Badge log kept on paper only.", raised_on=RAISED
    )
    action = services.add_corrective_action(
        actor=compliance_officer,
        nonconformity=minor,
        description="Move the badge log to the access system.",
        owner=compliance_officer,
        due_date=RAISED + timedelta(days=10),
    )
    services.complete_action(actor=compliance_officer, action=action, completed_on=RAISED + timedelta(days=2))
    services.verify_effectiveness(
        actor=second_auditor,
        nonconformity=minor,
        verified_on=RAISED + timedelta(days=3),
        method="Sampled ten badge entries.",
        result="effective",
    )
    services.close_nonconformity(actor=compliance_officer, nonconformity=minor, closed_on=RAISED + timedelta(days=3))
    audit = services.change_audit_status(actor=internal_auditor, audit=audit_in_progress, status="reporting", on=RAISED)
    audit.major, audit.minor = major, Nonconformity.objects.get(pk=minor.pk)
    return audit


def test_draft_is_rendered_in_the_background_and_again_after_changes(reporting_audit, internal_auditor):
    report = request_report(actor=internal_auditor, kind="audit_report_pdf", params={"audit": reporting_audit.pk})
    build_report(str(report.pk))  # what the Celery task runs
    report.refresh_from_db()
    assert report.status == GeneratedReport.Status.DONE, report.error
    text = pdf_text(blob_path(report.sha256).read_bytes())
    assert "DRAFT" in text
    assert "Access reviews were not performed in 2025." in text
    with pytest.raises(ValidationError) as excinfo:
        request_report(actor=internal_auditor, kind="audit_report_pdf", params={"audit": "x"})
    assert "audit" in excinfo.value.message_dict


def test_finalising_freezes_the_pdf_with_its_digest_in_the_audit_trail(reporting_audit, internal_auditor, risk_owner):
    with pytest.raises(PermissionDenied):
        services.finalise_audit_report(actor=risk_owner, audit=reporting_audit)
    report = services.finalise_audit_report(actor=internal_auditor, audit=reporting_audit)
    content = blob_path(report.sha256).read_bytes()
    assert hashlib.sha256(content).hexdigest() == report.sha256
    assert report.size == len(content)
    text = pdf_text(content)
    major, minor = reporting_audit.major, reporting_audit.minor
    for expected in (
        "Final",
        f"{major.reference} Major",
        "Access reviews were not performed in 2025.",
        "Open",
        f"{minor.reference} Minor",
        "Closed",
        "Sign-off",
        "Scope and criteria",
    ):
        assert expected in text, expected
    assert "DRAFT" not in text
    entry = AuditEntry.objects.filter(object_type="audits.auditreport", object_pk=str(report.pk)).get()
    assert report.sha256 in str(entry.changes)
    with pytest.raises(ValidationError) as excinfo:
        services.finalise_audit_report(actor=internal_auditor, audit=reporting_audit)
    assert "already finalised" in " ".join(excinfo.value.message_dict["report"])


def test_a_report_is_finalised_only_once_the_fieldwork_is_over(audit_in_progress, internal_auditor):
    with pytest.raises(ValidationError) as excinfo:
        services.finalise_audit_report(actor=internal_auditor, audit=audit_in_progress)
    assert "reporting" in " ".join(excinfo.value.message_dict["status"])
    assert not AuditReport.objects.exists()


def test_nothing_in_a_finalised_report_can_change(reporting_audit, internal_auditor, compliance_officer, controls_2022):
    report = services.finalise_audit_report(actor=internal_auditor, audit=reporting_audit)
    item = reporting_audit.checklist.first()
    attempts = [
        lambda: services.update_audit(actor=compliance_officer, audit=reporting_audit, criteria="Other criteria."),
        lambda: services.update_audit(actor=compliance_officer, audit=reporting_audit, controls=controls_2022[:1]),
        lambda: services.assign_auditors(
            actor=compliance_officer, audit=reporting_audit, lead_auditor=internal_auditor
        ),
        lambda: services.change_audit_status(actor=internal_auditor, audit=reporting_audit, status="in_progress"),
        lambda: services.update_nonconformity(
            actor=compliance_officer, nonconformity=reporting_audit.major, statement="Rewritten."
        ),
        lambda: services.raise_nonconformity(actor=internal_auditor, checklist_item=item, statement="Late finding."),
        lambda: AuditReport.objects.filter(pk=report.pk).update(sha256="0" * 64),
        report.delete,
        report.save,
    ]
    for attempt in attempts:
        with pytest.raises(ValidationError) as excinfo:
            attempt()
        assert "final" in str(excinfo.value), excinfo.value
    reporting_audit.refresh_from_db()
    assert reporting_audit.status == "reporting"
    assert reporting_audit.criteria.startswith("ISO/IEC")
    assert Nonconformity.objects.get(pk=reporting_audit.major.pk).statement.startswith("Access reviews")
    # the follow-up of clause 10.2 goes on, and the audit may still be closed
    services.update_nonconformity(
        actor=compliance_officer, nonconformity=reporting_audit.major, root_cause="No owner for reviews."
    )
    closed = services.change_audit_status(actor=compliance_officer, audit=reporting_audit, status="closed")
    assert closed.status == "closed"
    assert AuditReport.objects.get(pk=report.pk).sha256 == report.sha256


@postgresql_only
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audits_auditreport SET sha256 = repeat('0', 64) WHERE audit_id = %s",
        "DELETE FROM audits_auditreport WHERE audit_id = %s",
        "UPDATE audits_checklistitem SET result = 'conforming' WHERE audit_id = %s",
        "DELETE FROM audits_audit_controls WHERE audit_id = %s",
        "UPDATE audits_audit SET criteria = 'rewritten' WHERE id = %s",
        "UPDATE audits_audit SET status = 'in_progress' WHERE id = %s",
    ],
)
def test_database_refuses_changes_to_a_finalised_report(reporting_audit, internal_auditor, sql):
    report = services.finalise_audit_report(actor=internal_auditor, audit=reporting_audit)
    with pytest.raises(IntegrityError, match="final"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [reporting_audit.pk])
    assert AuditReport.objects.get(pk=report.pk).sha256 == report.sha256
    with connection.cursor() as cursor:  # closing is still allowed
        cursor.execute("UPDATE audits_audit SET status = 'closed' WHERE id = %s", [reporting_audit.pk])


def test_draft_pdf_lists_impartiality_overrides_with_their_justification(reporting_audit):
    text = pdf_text(audit_report_pdf(reporting_audit))
    assert "No impartiality conflict was overridden." in text


# --- pages and API ----------------------------------------------------------------------------------


def test_pages_render_the_draft_finalise_after_confirmation_and_serve_the_frozen_pdf(reporting_audit, client_for):
    from django.urls import reverse

    from tests.conftest import PASSWORD

    client = client_for("internal_auditor")
    page = client.get(reverse("audits:audit", args=[reporting_audit.pk]))
    assert b"Finalise the report" in page.content
    draft = client.post(reverse("audits:report_draft", args=[reporting_audit.pk]))
    assert draft.status_code == 302
    assert draft["Location"].startswith("/reports/")
    pending = client.get(reverse("audits:report_download", args=[reporting_audit.pk]))
    assert pending.status_code == 409
    unconfirmed = client.post(reverse("audits:report_finalise", args=[reporting_audit.pk]))
    assert unconfirmed.status_code == 302
    assert "confirm" in unconfirmed["Location"]
    assert not AuditReport.objects.exists()
    assert (
        client_for("isms_admin").post(reverse("audits:report_finalise", args=[reporting_audit.pk])).status_code == 403
    )
    done = client.post(reverse("audits:report_finalise", args=[reporting_audit.pk]), {"identity_password": PASSWORD})
    assert done.status_code == 302
    report = AuditReport.objects.get(audit=reporting_audit)
    download = client_for("isms_admin").get(reverse("audits:report_download", args=[reporting_audit.pk]))
    assert download["Content-Type"] == "application/pdf"
    assert hashlib.sha256(download.content).hexdigest() == report.sha256
    page = client.get(reverse("audits:audit", args=[reporting_audit.pk]))
    assert report.sha256.encode() in page.content
    assert b"Finalise the report" not in page.content
    assert b"Move to in progress" not in page.content


def test_api_finalise_needs_identity_and_answers_with_the_digest(reporting_audit, internal_auditor, isms_admin):
    from rest_framework.test import APIClient

    from tests.conftest import PASSWORD

    client = APIClient()
    client.force_authenticate(internal_auditor)
    url = f"/api/audits/{reporting_audit.pk}/finalise/"
    missing = client.post(url, {}, format="json")
    assert missing.status_code == 400
    assert "password" in missing.json()
    wrong = client.post(url, {"password": "nope"}, format="json")
    assert wrong.status_code == 400
    assert not AuditReport.objects.exists()
    admin = APIClient()
    admin.force_authenticate(isms_admin)
    assert admin.post(url, {"password": PASSWORD}, format="json").status_code == 403
    created = client.post(url, {"password": PASSWORD}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["sha256"] == AuditReport.objects.get().sha256
    shown = client.get(f"/api/audits/{reporting_audit.pk}/").json()["final_report"]
    assert shown["sha256"] == created.json()["sha256"]
    assert client.get(f"/api/audits/{reporting_audit.pk}/").status_code == 200
    again = client.post(url, {"password": PASSWORD}, format="json")
    assert again.status_code == 400
    assert "report" in again.json()
