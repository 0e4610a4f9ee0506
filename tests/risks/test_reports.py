"""Risk register and treatment plan exports, the acceptance record PDF, and the expiry task on a real worker."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from ismsapp.models import GeneratedReport
from ismsapp.services.reports import build_report
from risks import services
from risks.models import Risk, RiskAcceptance
from risks.tasks import expire_acceptances
from tests.conftest import PASSWORD, make_persona

JUSTIFICATION = "Residual exposure is covered by the cyber insurance policy."


def pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def rendered(client, response) -> bytes:
    """Run the queued report as the Celery task would, then download it as the requesting user."""
    report = GeneratedReport.objects.latest("requested_at")
    assert response["Location"] == reverse("report_status", args=[report.pk])
    build_report(str(report.pk))
    download = client.get(reverse("report_download", args=[report.pk]))
    assert download.status_code == 200, download.content[:300]
    assert download["Content-Type"] == "application/pdf"
    return download.content


@pytest.mark.django_db
def test_register_xlsx_neutralises_formulas_and_shows_owners_only_their_risks(make_risk, personas) -> None:
    make_risk(title='=HYPERLINK("http://evil")', threat="+cmd|' /C calc'!A0")
    make_risk(title="Shared drive", owner=make_owner(personas))
    officer = workbook(personas, "compliance_officer")
    titles = [row[1] for row in officer.iter_rows(min_row=2, values_only=True)]
    assert sorted(titles) == sorted(['\'=HYPERLINK("http://evil")', "Shared drive"])
    threats = [row[4] for row in officer.iter_rows(min_row=2, values_only=True)]
    assert "'+cmd|' /C calc'!A0" in threats
    assert officer.auto_filter.ref == "A1:R3"
    owner = workbook(personas, "risk_owner")
    assert [row[1] for row in owner.iter_rows(min_row=2, values_only=True)] == ['\'=HYPERLINK("http://evil")']


def make_owner(personas):
    from ismsapp import services as accounts
    from ismsapp.roles import Role

    return accounts.create_user(actor=None, username="second_owner", password=PASSWORD, roles=[Role.RISK_OWNER])


def workbook(personas, persona: str):
    from django.test import Client

    client = Client()
    client.force_login(personas[persona])
    response = client.get(reverse("risks:export", args=["register", "xlsx"]))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    return load_workbook(io.BytesIO(response.content)).active


@pytest.mark.django_db
def test_register_and_plan_pdfs_list_risks_actions_and_heatmaps(make_risk, client_for, compliance_officer) -> None:
    risks = [make_risk(title=f"Risk {n}") for n in range(3)]
    services.save_action(
        actor=compliance_officer,
        risk=risks[0],
        description="Encrypt every laptop disk",
        owner=compliance_officer,
        due_date=timezone.localdate() + timedelta(days=30),
    )
    client = client_for("compliance_officer")
    text = pdf_text(rendered(client, client.post(reverse("risks:export", args=["register", "pdf"]))))
    for risk in risks:
        assert risk.reference in text
    assert "Inherent risk" in text
    assert "Residual risk" in text
    assert "Page 1 of" in text
    plan = pdf_text(rendered(client, client.post(reverse("risks:export", args=["plan", "pdf"]))))
    assert "Encrypt every laptop disk" in plan
    assert risks[0].reference in plan


@pytest.mark.django_db
def test_acceptance_record_pdf_carries_snapshot_hash_and_second_approver(make_risk, risk_owner, personas) -> None:
    risk = make_risk(title="Supplier breach", residual_likelihood=4, residual_impact=4)  # above appetite
    accepted = services.accept_residual_risk(
        actor=risk_owner, risk=risk, password=PASSWORD, justification=JUSTIFICATION
    )
    services.decide_second_approval(actor=personas["isms_admin"], acceptance=accepted, approve=True)
    accepted.refresh_from_db()
    from django.test import Client

    client = Client()
    client.force_login(risk_owner)
    response = client.post(reverse("risks:acceptance_pdf", args=[accepted.pk]))
    text = pdf_text(rendered(client, response))
    assert f"{risk.reference} Supplier breach" in text
    assert accepted.snapshot_sha256 in text.replace("\n", "")
    assert "Isms Admin" in text  # the second approver
    assert "password confirmed" in text
    assert "cyber insurance" in text
    # Someone who cannot see the risk cannot have its record rendered.
    intruder = client_for_user(make_owner(personas))
    assert intruder.post(reverse("risks:acceptance_pdf", args=[accepted.pk])).status_code == 404


def client_for_user(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


@pytest.mark.redis
@pytest.mark.postgresql
def test_a_real_worker_expires_an_acceptance_and_reopens_the_risk(celery_worker_process, catalogue) -> None:
    officer, owner = make_persona("compliance_officer"), make_persona("risk_owner")
    risk = services.create_risk(
        actor=officer,
        title="Legacy VPN",
        owner=owner,
        inherent_likelihood=3,
        inherent_impact=3,
        treatment_option="retain",
        residual_likelihood=2,
        residual_impact=2,
    )
    accepted = services.accept_residual_risk(actor=owner, risk=risk, password=PASSWORD, justification=JUSTIFICATION)
    RiskAcceptance.objects.filter(pk=accepted.pk).update(expires_on=timezone.localdate() - timedelta(days=1))
    worker = celery_worker_process()
    worker.send(expire_acceptances)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and RiskAcceptance.objects.get(pk=accepted.pk).status == "active":
        time.sleep(0.2)
    log = worker.stop()
    accepted.refresh_from_db()
    risk.refresh_from_db()
    assert accepted.status == RiskAcceptance.Status.EXPIRED, log
    assert risk.status == Risk.Status.ACCEPTANCE_REQUIRED
    assert "expired" in accepted.end_reason
