"""The personal iCalendar feed: the secret in the URL opens one user's assigned audits, only its
SHA-256 is stored, replacing or revoking it stops the old address, and the text is valid
iCalendar (escaped, CRLF, folded) whatever the audit's title holds."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from audits.ical import escape, fold
from audits.models import CalendarFeed

pytestmark = pytest.mark.django_db


def feed_url(response) -> str:
    match = re.search(r'value="(http[^"]+\.ics)"', response.content.decode())
    assert match, "the new calendar address is shown once"
    return match.group(1)


def test_feed_lists_the_users_audits_and_is_revocable(make_audit, client_for, client):
    audit = make_audit(title="Access; control, audit\nwith a line break")
    auditor = client_for("internal_auditor")
    page = auditor.get(reverse("audits:calendar"))
    assert b"Create my calendar link" in page.content
    url = feed_url(auditor.post(reverse("audits:calendar_link"), {"action": "issue"}))
    secret = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert secret not in str(list(CalendarFeed.objects.values_list("key_digest", flat=True)))
    response = client.get(url)  # anonymous: the calendar program
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    assert f"UID:audit-{audit.pk}@" in text
    assert "SUMMARY:Audit: Access\\; control\\, audit\\nwith a line break" in text.replace("\r\n ", "")
    assert "DTSTART;VALUE=DATE:20260302" in text
    assert "DTEND;VALUE=DATE:20260307" in text  # exclusive end: the day after
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))

    replaced = feed_url(auditor.post(reverse("audits:calendar_link"), {"action": "issue"}))
    assert client.get(url).status_code == 404
    assert client.get(replaced).status_code == 200
    auditor.post(reverse("audits:calendar_link"), {"action": "revoke"})
    assert client.get(replaced).status_code == 404
    assert not CalendarFeed.objects.exists()


def test_feed_of_a_user_without_audits_is_empty_and_bad_secrets_are_not_found(make_audit, client_for, client):
    make_audit()
    owner = client_for("risk_owner")
    url = feed_url(owner.post(reverse("audits:calendar_link"), {"action": "issue"}))
    assert "BEGIN:VEVENT" not in client.get(url).content.decode()
    for secret in ("x", "a" * 43, "%00" * 30, "a" * 500):
        assert client.get(f"/audits/calendar/{secret}.ics").status_code == 404


def test_a_deactivated_users_feed_stops(make_audit, client_for, client, internal_auditor):
    make_audit()
    url = feed_url(client_for("internal_auditor").post(reverse("audits:calendar_link"), {"action": "issue"}))
    internal_auditor.is_active = False
    internal_auditor.save()
    assert client.get(url).status_code == 404


def test_escape_and_fold():
    assert escape("a\\b;c,d\r\ne\x00f") == "a\\\\b\\;c\\,d\\nef"
    folded = fold("SUMMARY:" + "é" * 80)
    assert all(len(line.encode()) <= 75 for line in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == "SUMMARY:" + "é" * 80
