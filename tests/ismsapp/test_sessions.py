"""Browser sessions: idle timeout, absolute lifetime, the record of each session, ending them.

Time passes by moving the stored timestamps back, never by sleeping.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ismsapp import services
from ismsapp.models import AuditEntry, UserSession
from ismsapp.roles import Role
from ismsapp.services.sessions import SESSION_ID, end_sessions, hash_session_id
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Another-Long-Passphrase-93"


def signed_in(username: str, password: str = PASSWORD, **headers: str) -> Client:
    """A browser that signed in through the login page."""
    client = Client(**headers)
    response = client.post(reverse("login"), {"username": username, "password": password})
    assert response.status_code == 302, response.content[:300]
    return client


def row_of(client: Client) -> UserSession:
    return UserSession.objects.get(key_hash=hash_session_id(client.session[SESSION_ID]))


def sent_to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_login_keeps_a_record_without_the_session_key(risk_owner) -> None:
    client = signed_in("risk_owner", HTTP_USER_AGENT="Firefox\x07/120\x1b[31m", REMOTE_ADDR="192.0.2.44")
    key, session_id = client.session.session_key, client.session[SESSION_ID]
    row = UserSession.objects.get(user=risk_owner)
    assert row.key_hash == hash_session_id(session_id)
    assert key not in {row.key_hash, session_id}
    assert row.ip_address == "192.0.2.44"
    assert row.user_agent == "Firefox\ufffd/120\ufffd[31m"  # control characters of a client header replaced
    assert not UserSession.objects.filter(key_hash__in=[key, session_id]).exists()


def test_idle_session_is_ended_with_a_message(risk_owner, settings) -> None:
    settings.ISMS_SESSION_IDLE_TIMEOUT = 30 * 60
    client = signed_in("risk_owner")
    assert client.get(reverse("dashboard")).status_code == 200
    key = client.session.session_key
    UserSession.objects.filter(user=risk_owner).update(last_seen_at=timezone.now() - timedelta(minutes=31))
    response = client.get(reverse("dashboard"))
    assert sent_to_login(response)
    assert "next=/" in response["Location"]
    assert messages_of(response) == ["You were signed out after 30 minutes without activity. Please sign in again."]
    assert sent_to_login(client.get(reverse("dashboard")))  # and it stays ended
    row = UserSession.objects.get(user=risk_owner)
    assert row.ended_at is not None
    assert row.end_reason == "expired (idle)"
    entry = AuditEntry.objects.filter(additional_data__event="session expired").get()
    assert (entry.action, entry.actor, entry.additional_data["reason"]) == (
        AuditEntry.Action.LOGOUT,
        risk_owner,
        "idle",
    )
    assert key not in str(entry.additional_data)


def test_active_session_stays_and_last_seen_moves_at_most_once_a_minute(risk_owner) -> None:
    client = signed_in("risk_owner")
    row = row_of(client)
    client.get(reverse("dashboard"))
    assert row_of(client).last_seen_at == row.last_seen_at  # touched less than a minute ago: no write
    earlier = timezone.now() - timedelta(minutes=29)
    UserSession.objects.filter(pk=row.pk).update(last_seen_at=earlier)
    assert client.get(reverse("dashboard")).status_code == 200
    assert row_of(client).last_seen_at > earlier + timedelta(minutes=28)


def test_absolute_lifetime_ends_even_a_busy_session(risk_owner, settings) -> None:
    settings.ISMS_SESSION_ABSOLUTE_LIFETIME = 12 * 3600
    client = signed_in("risk_owner")
    UserSession.objects.filter(user=risk_owner).update(
        created_at=timezone.now() - timedelta(hours=12, seconds=1), last_seen_at=timezone.now()
    )
    response = client.get(reverse("dashboard"))
    assert sent_to_login(response)
    assert messages_of(response) == ["Your session reached its maximum length of 12 hours. Please sign in again."]
    assert AuditEntry.objects.get(additional_data__event="session expired").additional_data["reason"] == "absolute"


def test_api_call_with_an_expired_session_gets_401_json(risk_owner) -> None:
    client = signed_in("risk_owner")
    assert client.get("/api/me/").status_code == 200
    UserSession.objects.filter(user=risk_owner).update(last_seen_at=timezone.now() - timedelta(hours=1))
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert "without activity" in response.json()["detail"]
    assert client.get("/api/me/").status_code == 401


def test_htmx_request_with_an_expired_session_is_sent_to_the_login_page(risk_owner) -> None:
    client = signed_in("risk_owner")
    UserSession.objects.filter(user=risk_owner).update(last_seen_at=timezone.now() - timedelta(hours=1))
    response = client.get(reverse("dashboard"), HTTP_HX_REQUEST="true")
    assert response.status_code == 401
    assert response["HX-Redirect"] == reverse("login")


def test_a_session_without_a_record_is_refused(risk_owner) -> None:
    client = signed_in("risk_owner")
    UserSession.objects.all().delete()
    response = client.get(reverse("dashboard"))
    assert sent_to_login(response)
    assert messages_of(response) == ["Your session is no longer valid. Please sign in again."]


def test_sign_out_everywhere_else_keeps_this_browser(risk_owner) -> None:
    laptop, phone = signed_in("risk_owner"), signed_in("risk_owner")
    page = laptop.get(reverse("account:index"))
    assert len(page.context["sessions"]) == 2
    response = laptop.post(reverse("account:end_other_sessions"))
    assert response.status_code == 302
    assert laptop.get(reverse("account:index")).status_code == 200
    response = phone.get(reverse("dashboard"))
    assert sent_to_login(response)
    assert messages_of(response) == ["Your session was ended (signed out everywhere else). Please sign in again."]
    entry = AuditEntry.objects.get(additional_data__event="sessions ended")
    assert entry.additional_data == {
        "event": "sessions ended",
        "reason": "signed out everywhere else",
        "sessions": 1,
        "current_session_kept": True,
    }
    assert (entry.actor, entry.object_pk) == (risk_owner, str(risk_owner.pk))


def test_sign_out_everywhere_ends_this_browser_too(risk_owner) -> None:
    laptop, phone = signed_in("risk_owner"), signed_in("risk_owner")
    response = laptop.post(reverse("account:end_all_sessions"))
    assert sent_to_login(response)
    assert sent_to_login(laptop.get(reverse("dashboard")))
    assert sent_to_login(phone.get(reverse("dashboard")))
    assert not UserSession.objects.filter(ended_at__isnull=True).exists()


def test_logout_ends_the_record(risk_owner) -> None:
    client = signed_in("risk_owner")
    row = row_of(client)
    client.post(reverse("logout"))
    row.refresh_from_db()
    assert (row.ended_at is not None, row.end_reason) == (True, "signed out")


def test_password_change_ends_the_other_sessions(risk_owner) -> None:
    laptop, phone = signed_in("risk_owner"), signed_in("risk_owner")
    services.set_password(
        actor=risk_owner, user=risk_owner, password=NEW_PASSWORD, keep_session_key=laptop.session.session_key
    )
    assert list(UserSession.objects.filter(ended_at__isnull=True)) == [row_of(laptop)]
    assert row_of(phone).end_reason == "password changed"
    assert sent_to_login(phone.get(reverse("dashboard")))
    entry = AuditEntry.objects.get(additional_data__event="sessions ended")
    assert entry.additional_data["reason"] == "password changed"


def test_password_set_by_an_admin_ends_every_session(risk_owner, isms_admin) -> None:
    signed_in("risk_owner")
    services.set_password(actor=isms_admin, user=risk_owner, password=NEW_PASSWORD)
    assert not UserSession.objects.filter(user=risk_owner, ended_at__isnull=True).exists()
    assert AuditEntry.objects.get(additional_data__event="sessions ended").actor == isms_admin


def _update(actor, user, roles, is_active=True):
    return services.update_user(
        actor=actor, user=user, roles=roles, email=user.email, first_name="", last_name="", is_active=is_active
    )


def test_role_change_ends_that_users_sessions(isms_admin, risk_owner) -> None:
    client = signed_in("risk_owner")
    admin = signed_in("isms_admin")
    _update(isms_admin, risk_owner, [Role.RISK_OWNER])  # same roles: nothing ends
    assert client.get(reverse("dashboard")).status_code == 200
    _update(isms_admin, risk_owner, [Role.RISK_OWNER, Role.INTERNAL_AUDITOR])
    response = client.get(reverse("dashboard"))
    assert sent_to_login(response)
    assert messages_of(response) == ["Your session was ended (roles changed). Please sign in again."]
    assert admin.get(reverse("dashboard")).status_code == 200
    entry = AuditEntry.objects.get(additional_data__event="sessions ended")
    assert (entry.actor, entry.object_pk, entry.additional_data["reason"]) == (
        isms_admin,
        str(risk_owner.pk),
        "roles changed",
    )


def test_deactivation_ends_sessions(isms_admin, risk_owner) -> None:
    signed_in("risk_owner")
    _update(isms_admin, risk_owner, [Role.RISK_OWNER], is_active=False)
    assert UserSession.objects.get(user=risk_owner).end_reason == "account deactivated"


def test_admin_ends_all_sessions_of_a_user_from_the_users_page(isms_admin, risk_owner) -> None:
    client = signed_in("risk_owner")
    admin = signed_in("isms_admin")
    assert b"End sessions" in admin.get(reverse("users")).content
    response = admin.post(reverse("user_end_sessions", args=[risk_owner.pk]))
    assert response.status_code == 302
    assert sent_to_login(client.get(reverse("dashboard")))
    assert admin.get(reverse("dashboard")).status_code == 200
    entry = AuditEntry.objects.get(additional_data__event="sessions ended")
    assert (entry.actor, entry.additional_data["reason"]) == (isms_admin, "ended by an ISMS admin")


def test_only_admins_end_other_users_sessions(risk_owner, compliance_officer) -> None:
    client = signed_in("risk_owner")
    officer = signed_in("compliance_officer")
    assert officer.post(reverse("user_end_sessions", args=[risk_owner.pk])).status_code == 403
    assert client.get(reverse("dashboard")).status_code == 200


def test_end_sessions_returns_the_count_and_writes_nothing_when_none(risk_owner) -> None:
    first, second = signed_in("risk_owner"), signed_in("risk_owner")
    assert end_sessions(risk_owner, keep_session_key=first.session.session_key, reason="test", actor=None) == 1
    assert end_sessions(risk_owner, keep_session_key=first.session.session_key, reason="test", actor=None) == 0
    assert AuditEntry.objects.filter(additional_data__event="sessions ended").count() == 1
    assert sent_to_login(second.get(reverse("dashboard")))


def test_account_page_lists_only_own_live_sessions(risk_owner, compliance_officer) -> None:
    mine = signed_in("risk_owner", HTTP_USER_AGENT="MyBrowser/1.0")
    signed_in("compliance_officer", HTTP_USER_AGENT="TheirBrowser/2.0")
    old = signed_in("risk_owner")
    UserSession.objects.filter(pk=row_of(old).pk).update(last_seen_at=timezone.now() - timedelta(days=1))
    page = mine.get(reverse("account:index"))
    assert [row.pk for row in page.context["sessions"]] == [row_of(mine).pk]
    html = page.content.decode()
    assert "MyBrowser/1.0" in html
    assert "TheirBrowser" not in html
    assert "this browser" in html


def test_changing_ones_own_password_keeps_this_browser_only(risk_owner) -> None:
    from ismsapp.services.tokens import create_token

    laptop, phone = signed_in("risk_owner"), signed_in("risk_owner")
    key = create_token(actor=risk_owner, name="script").key
    response = laptop.post(
        reverse("account:password_change"),
        {"current_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert laptop.get(reverse("account:index")).status_code == 200  # re-keyed, still recorded
    assert row_of(laptop).ended_at is None
    assert sent_to_login(phone.get(reverse("dashboard")))
    risk_owner.refresh_from_db()
    assert risk_owner.check_password(NEW_PASSWORD)
    assert Client().get("/api/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


def test_a_wrong_current_password_is_refused_and_counts_towards_lockout(risk_owner, settings) -> None:
    client = signed_in("risk_owner")

    def attempt(current: str):
        return client.post(
            reverse("account:password_change"),
            {"current_password": current, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )

    response = attempt("guess")
    assert response.status_code == 400
    assert response.context["password_form"].errors["current_password"] == ["This is not your current password."]
    statuses = [attempt("guess").status_code for _ in range(settings.AXES_FAILURE_LIMIT - 1)]
    assert statuses[-1] == 429  # locked out, like the login page
    assert attempt(PASSWORD).status_code == 429  # even the right password, until the lock is lifted
    assert AuditEntry.objects.filter(action=AuditEntry.Action.LOCKED_OUT).exists()
    risk_owner.refresh_from_db()
    assert risk_owner.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"current_password": PASSWORD, "new_password1": "short", "new_password2": "short"}, "new_password2"),
        ({"current_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": "other"}, "new_password2"),
        ({"current_password": "", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, "current_password"),
        (
            {"current_password": "a\x00b", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
            "current_password",
        ),
    ],
)
def test_bad_password_change_names_the_field(risk_owner, data, field) -> None:
    response = signed_in("risk_owner").post(reverse("account:password_change"), data)
    assert response.status_code == 400
    assert field in response.context["password_form"].errors
    risk_owner.refresh_from_db()
    assert risk_owner.check_password(PASSWORD)


def test_signing_in_again_in_the_same_browser_replaces_its_record(risk_owner) -> None:
    client = signed_in("risk_owner")
    first = row_of(client)
    client.force_login(risk_owner)  # login() again on the same session (its data is kept)
    first.refresh_from_db()
    assert first.end_reason == "signed in again"
    assert row_of(client).pk != first.pk
    assert UserSession.objects.filter(ended_at__isnull=True).count() == 1
    assert client.get(reverse("dashboard")).status_code == 200
