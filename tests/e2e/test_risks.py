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
