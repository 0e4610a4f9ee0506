"""In Chromium: an ISMS admin, whose role requires a second factor, is sent to enrolment after the
password, enrols an authenticator app (QR code and secret), and logs in again with its code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.conftest import PASSWORD, make_persona, totp_code

pytestmark = pytest.mark.django_db(transaction=True)
SHOTS = Path(os.environ.get("ISMS_SCREENSHOTS", str(Path(django_settings.VAR_DIR) / "screenshots")))


def shoot(page, name: str) -> None:
    """Screenshots at desktop and phone widths (kept under var/screenshots for a human to look at)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1440, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def password_step(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_admin_enrols_an_authenticator_app_and_logs_in_with_it(page, settings) -> None:
    settings.ISMS_MFA_REQUIRED_ROLES = ["isms_admin", "compliance_officer", "external_auditor"]
    admin = make_persona("isms_admin")

    password_step(page, "isms_admin")
    page.wait_for_url("**/account/security/?required=1")
    expect(page.get_by_role("alert")).to_contain_text("Your role requires a second factor")
    page.goto("/users/")  # nothing else until enrolled
    page.wait_for_url("**/account/security/?required=1")

    page.get_by_role("link", name="Set up an authenticator app").click()
    page.wait_for_url("**/account/security/authenticator/")
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.locator("[data-secret]").inner_text()
    device = TOTPDevice.objects.get(user=admin, confirmed=False)
    assert f"secret={secret}&" in device.config_url  # the key typed by hand is the one in the QR code
    shoot(page, "mfa-enrol")

    page.get_by_label("Authentication code").fill(totp_code(device))
    page.get_by_role("button", name="Confirm and turn on").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    recovery_codes = page.locator("[data-recovery-codes] code").all_inner_texts()
    assert len(recovery_codes) == 10
    page.get_by_role("link", name="I have saved them").click()
    expect(page.locator("[data-mfa-status]")).to_have_text("on")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")

    password_step(page, "isms_admin")
    page.wait_for_url("**/login/verify/")
    expect(page.get_by_role("heading", name="Enter the code from your app")).to_be_visible()
    shoot(page, "mfa-login-code")
    page.get_by_label("Authentication code").fill("000000" if totp_code(device, 1) != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("This code is not correct")
    page.wait_for_timeout(1100)  # django-otp's per-device throttle after a failure
    page.get_by_label("Authentication code").fill(totp_code(device, 1))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.get_by_role("region", name="You")).to_contain_text("Two-factor authentication: on")

    # "Confirm it's you" asks for the password and the code.
    page.goto("/confirm-identity/?next=/users/")
    expect(page.get_by_label("Your password")).to_be_visible()
    expect(page.get_by_label("Authentication code")).to_be_visible()
    shoot(page, "confirm-identity")
    page.get_by_label("Your password").fill(PASSWORD)
    # The app's next code is 30 s away (django-otp refuses a code twice): a recovery code will do.
    page.get_by_label("Authentication code").fill(recovery_codes[0])
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/users/")
    # No CSP violation, no script error; the one 400 is the page answering the wrong code.
    assert [error for error in page.console_errors if "status of 400" not in error] == []


def wait_for_passkey_script(page) -> None:
    """The library's button handler needs its translation catalogue (loaded async). Polled from
    here: wait_for_function evaluates a string, which the page's CSP forbids."""
    for _ in range(50):
        if page.evaluate("() => typeof gettext === 'function'"):
            return
        page.wait_for_timeout(100)
    raise AssertionError("the passkey script's catalogue did not load")


def test_a_passkey_replaces_the_code_at_login(page) -> None:
    """Chromium's virtual authenticator (DevTools protocol) stands in for a phone or security key."""
    from django_otp_webauthn.models import WebAuthnCredential

    user = make_persona("risk_owner")
    password_step(page, "risk_owner")
    page.wait_for_url("**/")
    page.goto("/account/security/authenticator/")
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    page.get_by_label("Authentication code").fill(totp_code(device))
    page.get_by_role("button", name="Confirm and turn on").click()
    page.get_by_role("link", name="I have saved them").click()

    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    wait_for_passkey_script(page)
    page.get_by_role("button", name="Add a passkey").click()
    for _ in range(50):
        if WebAuthnCredential.objects.filter(user=user, confirmed=True).exists():
            break
        page.wait_for_timeout(200)
    assert WebAuthnCredential.objects.filter(user=user, confirmed=True).count() == 1
    page.goto("/account/security/")
    shoot(page, "mfa-passkeys")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")
    password_step(page, "risk_owner")
    page.wait_for_url("**/login/verify/")
    wait_for_passkey_script(page)
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url("**/")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    assert page.console_errors == []
