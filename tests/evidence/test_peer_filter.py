"""Issue 13, item 2: events reached by host name are found by the same peer filter as addresses (explorer,
CSV export and API), and an address matches its v4-mapped IPv6 form."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from evidence import ingestion
from tests.evidence.test_receivers import run_queued_chunks, source_and_token  # noqa: F401 (fixture)

LOG = (
    b"Dec  4 10:00:01 host1 sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2\n"
    b"Dec  4 10:00:02 host1 sshd[2]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
    b"ruser= rhost=dsl-7.example.net  user=alice\n"
    b"Dec  4 10:00:03 host1 sshd[3]: Accepted password for bob from ::ffff:192.0.2.5 port 2 ssh2\n"
    b"Dec  4 10:00:04 host1 sshd[4]: Failed password for admin 203.0.113.9 port 1 from 198.51.100.7 port 3 ssh2\n"
)


@pytest.fixture
def ingested(source_and_token):  # noqa: F811
    source, _ = source_and_token
    run_queued_chunks(
        ingestion.create_job(actor=None, source=source, fmt="syslog", stream=io.BytesIO(LOG), enqueue=False)
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("peer", "users"),
    [
        ("203.0.113.9", {"root"}),  # not the user who logged in as "admin 203.0.113.9 port 1"
        ("198.51.100.7", {"admin 203.0.113.9 port 1"}),
        ("DSL-7.example.net", {"alice"}),
        ("192.0.2.5", {"bob"}),
        ("::ffff:192.0.2.5", {"bob"}),
        ("::FFFF:c000:205", {"bob"}),
        ("192.0.2.99", set()),
    ],
)
def test_the_explorer_and_the_api_find_events_by_address_or_host(ingested, client_for, isms_admin, peer, users):
    page = client_for("internal_auditor").get(reverse("evidence:events"), {"source_ip": peer})
    assert page.status_code == 200
    assert {event.user for event in page.context["page"].rows} == users
    client = APIClient()
    client.force_authenticate(isms_admin)
    body = client.get("/api/events/", {"source_ip": peer}).json()
    assert {row["user"] for row in body["results"]} == users


@pytest.mark.django_db
def test_the_csv_export_uses_the_same_peer_filter(ingested, client_for):
    export = client_for("internal_auditor").get(reverse("evidence:events_export"), {"source_ip": "dsl-7.example.net"})
    lines = b"".join(export.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 2
    assert ",alice," in lines[1]


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["a\x00b", "x" * 256])
def test_a_bad_peer_filter_is_a_clear_error_naming_the_field(client_for, isms_admin, bad):
    client = APIClient()
    client.force_authenticate(isms_admin)
    response = client.get("/api/events/", {"source_ip": bad})
    assert response.status_code == 400
    assert "source_ip" in response.json()
    export = client_for("internal_auditor").get(reverse("evidence:events_export"), {"source_ip": bad})
    assert export.status_code == 400
    assert b"source_ip" in export.content
