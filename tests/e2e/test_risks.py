"""A risk owner accepts a residual risk in Chromium, re-entering their password."""

from __future__ import annotations

import pytest

from risks import services
from risks.models import Risk, RiskAcceptance
from tests.conftest import PASSWORD, make_persona

pytestmark = pytest.mark.django_db(transaction=True)


def test_owner_accepts_residual_risk_from_my_risks(page, catalogue) -> None:
    officer = make_persona("compliance_officer")
    owner = make_persona("risk_owner")
    risk = services.create_risk(
        actor=officer,
        title="Laptop theft exposes customer data",
        owner=owner,
        inherent_likelihood=3,
        inherent_impact=4,
        treatment_option="modify",
        residual_likelihood=2,
        residual_impact=3,
    )
    assert risk.status == Risk.Status.TREATED

    page.goto("/login/")
    page.get_by_label("Username").fill("risk_owner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My risks").click()
    waiting = page.get_by_role("region", name="Waiting for your decision (1)")
    assert "Laptop theft exposes customer data" in waiting.inner_text()
    waiting.get_by_role("link", name="Accept the residual risk").click()

    page.get_by_label("Justification").fill("x")
    page.get_by_label("Your password").fill("not-my-password")
    page.get_by_role("button", name="Accept and sign").click()
    alerts = " ".join(page.get_by_role("alert").all_inner_texts())
    assert "password is not correct" in alerts
    assert not RiskAcceptance.objects.exists()

    page.get_by_label("Justification").fill("Encrypted disks; remaining exposure is small and insured.")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Accept and sign").click()
    assert "Residual risk accepted." in page.get_by_role("status").inner_text()
    assert "Accepted" in page.inner_text("main")

    accepted = RiskAcceptance.objects.get()
    assert (accepted.accepted_by, accepted.status) == (owner, RiskAcceptance.Status.ACTIVE)
    assert accepted.snapshot["residual"] == {"likelihood": 2, "impact": 3, "level": "medium"}
    risk.refresh_from_db()
    assert risk.status == Risk.Status.ACCEPTED


def test_owner_reports_progress_and_sees_the_assessment_read_only(page, catalogue) -> None:
    """The owner's edit page offers the description only; their action page status and progress."""
    import os
    from datetime import date, timedelta
    from pathlib import Path

    officer = make_persona("compliance_officer")
    owner = make_persona("risk_owner")
    risk = services.create_risk(
        actor=officer,
        title="Laptop theft exposes customer data",
        owner=owner,
        inherent_likelihood=3,
        inherent_impact=4,
        treatment_option="modify",
        residual_likelihood=2,
        residual_impact=3,
    )
    action = services.save_action(
        actor=officer,
        risk=risk,
        description="Encrypt every laptop",
        owner=officer,
        due_date=date.today() + timedelta(days=30),
    )
    shots = Path(os.environ.get("E2E_SCREENSHOTS", "")) if os.environ.get("E2E_SCREENSHOTS") else None

    page.goto("/login/")
    page.get_by_label("Username").fill("risk_owner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    page.goto(f"/risks/{risk.pk}/edit/")
    assessment = page.get_by_role("region", name="Assessment and treatment")
    assert "medium 2\u00d73" in assessment.inner_text()
    assert page.get_by_label("Residual likelihood").count() == 0
    assert page.get_by_label("Risk owner").count() == 0
    if shots:
        for width in (1440, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(shots / f"risk-owner-edit-{width}.png"), full_page=True)

    page.goto(f"/risks/{risk.pk}/")
    assert page.get_by_role("link", name="Add a treatment action").count() == 0
    page.get_by_role("link", name="Report progress").click()
    assert page.get_by_label("Description").count() == 0
    status = page.get_by_label("Status")
    assert "Cancelled" not in status.inner_text()
    status.select_option("done")
    page.get_by_label("Progress note").fill("All laptops encrypted; checked by IT.")
    if shots:
        for width in (1440, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(shots / f"risk-owner-action-{width}.png"), full_page=True)
    page.get_by_role("button", name="Save").click()
    assert "Treatment action saved." in page.get_by_role("status").inner_text()
    assert "All laptops encrypted; checked by IT." in page.inner_text("main")
    action.refresh_from_db()
    assert (action.status, action.progress_note) == ("done", "All laptops encrypted; checked by IT.")
    assert page.console_errors == []
