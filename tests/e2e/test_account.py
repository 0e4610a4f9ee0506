"""The account page in a real browser: sessions listed, a token created and shown once, sign out elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, make_persona

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def shoot(page, name: str, tmp_path: Path) -> None:
    """Screenshots go to ``ISMS_SCREENSHOT_DIR`` when set (to look at them), else to the test's tmp dir."""
    folder = Path(os.environ.get("ISMS_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_account_page_sessions_and_tokens(browser, page, live_server, tmp_path) -> None:
    make_persona("risk_owner")
    other = browser.new_context(base_url=live_server.url).new_page()
    log_in(other, "risk_owner")
    log_in(page, "risk_owner")
    page.get_by_role("link", name="Risk Owner").click()
    page.wait_for_url("**/account/")
    sessions = page.get_by_role("region", name="Sessions")
    assert sessions.locator("tbody tr").count() == 2
    assert sessions.locator("tr[data-current]").count() == 1

    tokens = page.get_by_role("region", name="API tokens")
    tokens.get_by_label("Name").fill("SIEM export")
    tokens.get_by_label("Expires after (days)").fill("30")
    tokens.get_by_role("button", name="Create token").click()
    key = page.locator("[data-token]").inner_text()
    assert key.startswith("ismsapi_")
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        shoot(page, f"account-{width}", tmp_path)
        # nothing wider than the screen but the tables, which scroll inside their own box
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"page scrolls sideways at {width}px by {overflow}px"

    page.get_by_role("button", name="Sign out everywhere else").click()
    assert "Signed out of 1 other session." in page.get_by_role("status").first.inner_text()
    other.goto("/")
    assert "/login/" in other.url
    assert "Your session was ended (signed out everywhere else)" in other.inner_text("main")
    page.reload()
    assert key not in page.content()  # shown once
    assert page.console_errors == []
    other.context.close()
