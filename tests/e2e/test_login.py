"""A user logs in with a real browser and sees the dashboard."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, make_persona

pytestmark = pytest.mark.django_db(transaction=True)


def test_user_logs_in_and_sees_the_dashboard(page) -> None:
    make_persona("compliance_officer")
    page.goto("/")
    assert "/login/" in page.url  # sent to the login page first
    page.get_by_label("Username").fill("compliance_officer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    assert page.get_by_role("heading", name="Dashboard", level=1).is_visible()
    you = page.get_by_role("region", name="You")
    assert "Compliance officer" in you.inner_text()
    trail = page.get_by_role("region", name="Audit trail, last 24 hours")
    assert trail.locator('[data-figure="audit-entries"]').inner_text().isdigit()
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit trail").is_visible()
    assert page.console_errors == []  # no CSP violation, no script error


def test_wrong_password_shows_a_message(page) -> None:
    make_persona("risk_owner")
    page.goto("/login/")
    page.get_by_label("Username").fill("risk_owner")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text().startswith("Your username and password did not match")


def test_api_docs_render_from_local_assets(page) -> None:
    make_persona("isms_admin")
    page.goto("/login/?next=/api/docs/")
    page.get_by_label("Username").fill("isms_admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector(".swagger-ui .info", timeout=15000)
    assert "ISMS API" in page.inner_text(".swagger-ui .info")
