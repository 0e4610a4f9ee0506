"""The lead auditor finalises an audit report in Chromium and downloads the frozen PDF, which
lists the nonconformities with their status; then subscribes to their audits calendar."""

from __future__ import annotations

import io
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from tests.conftest import PASSWORD, make_persona

pytestmark = pytest.mark.django_db(transaction=True)
SHOTS = Path(os.environ.get("ISMS_SCREENSHOTS", str(Path(django_settings.VAR_DIR) / "screenshots")))
RAISED = date(2026, 3, 4)


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def reporting_audit() -> object:
    from audits import services
    from controls.models import Control
    from ismsapp import services as accounts
    from ismsapp.roles import Role

    officer = make_persona("compliance_officer")
    auditor = make_persona("internal_auditor")
    verifier = accounts.create_user(actor=None, username="verifier", password=PASSWORD, roles=[Role.INTERNAL_AUDITOR])
    programme = services.create_programme(
        actor=officer,
        title="Certification cycle",
        edition="2022",
        period_start=date(2026, 1, 1),
        period_end=date(2028, 12, 31),
        objectives="Audit every applicable control once per cycle.",
        owner=officer,
    )
    audit = services.create_audit(
        actor=officer,
        programme=programme,
        title="Access control audit",
        criteria="ISO/IEC 27001:2022",
        planned_start=date(2026, 3, 2),
        planned_end=date(2026, 3, 6),
        lead_auditor=auditor,
        controls=list(Control.objects.filter(edition="2022").order_by("position")[:2]),
    )
    audit = services.change_audit_status(actor=auditor, audit=audit, status="in_progress", on=date(2026, 3, 2))
    first, second = audit.checklist.order_by("position")
    first = services.record_checklist_result(actor=auditor, item=first, expected_version=0, result="minor_nc")
    services.record_checklist_result(actor=auditor, item=second, expected_version=0, result="conforming")
    nc = services.raise_nonconformity(
        actor=auditor, checklist_item=first, statement="Access reviews skipped in Q1.", raised_on=RAISED
    )
    action = services.add_corrective_action(
        actor=officer, nonconformity=nc, description="Schedule reviews.", owner=officer, due_date=RAISED + timedelta(5)
    )
    services.complete_action(actor=officer, action=action, completed_on=RAISED + timedelta(days=1))
    services.verify_effectiveness(
        actor=verifier, nonconformity=nc, verified_on=RAISED + timedelta(2), method="Sampled.", result="effective"
    )
    services.close_nonconformity(actor=officer, nonconformity=nc, closed_on=RAISED + timedelta(days=2))
    services.change_audit_status(actor=auditor, audit=audit, status="reporting", on=RAISED + timedelta(days=2))
    return audit, nc


def test_lead_auditor_finalises_the_report_and_downloads_the_frozen_pdf(page, catalogue) -> None:
    from pypdf import PdfReader

    from audits.models import AuditReport

    audit, nc = reporting_audit()
    page.goto("/login/")
    page.get_by_label("Username").fill("internal_auditor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    page.goto(f"/audits/{audit.pk}/")
    report = page.get_by_role("region", name="Audit report")
    assert "Finalise the report" in report.inner_text()
    shoot(page, "audit-report-draft")
    report.get_by_role("button", name="Finalise the report").click()
    if page.get_by_label("Your password").count():  # the login may no longer count as a confirmation
        page.get_by_label("Your password").fill(PASSWORD)
        page.get_by_role("button", name="Finalise the report").click()
    assert "The report is final" in page.get_by_role("status").inner_text()
    final = AuditReport.objects.get(audit=audit)
    assert final.sha256 in page.inner_text("main")
    shoot(page, "audit-report-final")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the final report (PDF)").click()
    content = Path(download.value.path()).read_bytes()
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(content)).pages)
    assert f"{nc.reference} Minor" in text
    assert "Closed" in text
    assert "Access reviews skipped in Q1." in text

    page.goto("/audits/calendar/")
    page.get_by_role("button", name="Create my calendar link").click()
    address = page.get_by_label("Your calendar address").input_value()
    assert address.endswith(".ics")
    shoot(page, "audit-calendar")
    assert page.console_errors == []
