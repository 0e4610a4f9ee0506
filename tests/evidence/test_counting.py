"""Counting right (issue 13, item 5): a reduced "message repeated N times" line counts N, and one
authentication attempt logged by sshd and by PAM counts once, in the SoA's counters, the explorer,
the CSV export and the API; ``verify_evidence`` re-counts the same way."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db.models import Sum
from django.urls import reverse
from rest_framework.test import APIClient

from evidence import ingestion, services
from evidence.models import ControlEventCount, Event
from evidence.verification import counter_disagreements, verify_source

pytestmark = pytest.mark.django_db

REPEATED = (
    b"<38>Jan  5 10:00:00 web1 sshd[100]: Failed password for root from 203.0.113.9 port 4000 ssh2\n"
    b"<38>Jan  5 10:00:30 web1 sshd[100]: message repeated 5 times: [ Failed password for root from 203.0.113.9 "
    b"port 4000 ssh2]\n"
)
PAM_THEN_SSHD = (  # two password attempts of one connection, each logged by pam_unix and by sshd
    b"<38>Jan  5 10:01:00 web1 sshd[200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
    b"tty=ssh ruser= rhost=198.51.100.7  user=alice\n"
    b"<38>Jan  5 10:01:02 web1 sshd[200]: Failed password for alice from 198.51.100.7 port 5000 ssh2\n"
    b"<38>Jan  5 10:01:04 web1 sshd[200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
    b"tty=ssh ruser= rhost=198.51.100.7  user=alice\n"
    b"<38>Jan  5 10:01:06 web1 sshd[200]: Failed password for alice from 198.51.100.7 port 5000 ssh2\n"
)
INVALID_USER = (  # one attempt, five lines (OpenSSH 5.x-7.x with PAM)
    b"<38>Jan  5 10:02:00 web1 sshd[300]: Invalid user bob from 192.0.2.50 port 6000\n"
    b"<38>Jan  5 10:02:00 web1 sshd[300]: input_userauth_request: invalid user bob [preauth]\n"
    b"<38>Jan  5 10:02:01 web1 sshd[300]: pam_unix(sshd:auth): check pass; user unknown\n"
    b"<38>Jan  5 10:02:01 web1 sshd[300]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
    b"tty=ssh ruser= rhost=192.0.2.50\n"
    b"<38>Jan  5 10:02:03 web1 sshd[300]: Failed password for invalid user bob from 192.0.2.50 port 6000 ssh2\n"
)
OTHER_PROCESSES = (  # not one attempt: other process, other peer, other user, too far apart
    b"<38>Jan  5 10:03:00 web1 sshd[400]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
    b"tty=ssh ruser= rhost=198.51.100.8  user=carol\n"
    b"<38>Jan  5 10:03:02 web1 sshd[401]: Failed password for carol from 198.51.100.8 port 7000 ssh2\n"
    b"<38>Jan  5 10:03:04 web1 sshd[401]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
    b"tty=ssh ruser= rhost=198.51.100.9  user=carol\n"
    b"<38>Jan  5 10:03:05 web1 sshd[402]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
    b"tty=ssh ruser= rhost=198.51.100.8  user=dave\n"
    b"<38>Jan  5 10:03:06 web1 sshd[402]: Failed password for erin from 198.51.100.8 port 7001 ssh2\n"
    b"<38>Jan  5 10:03:10 web1 sshd[403]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
    b"tty=ssh ruser= rhost=198.51.100.8  user=frank\n"
    b"<38>Jan  5 10:03:40 web1 sshd[403]: Failed password for frank from 198.51.100.8 port 7002 ssh2\n"
)


@pytest.fixture
def source(isms_admin):
    created, _token = services.create_source(actor=isms_admin, name="web1", owner=isms_admin)
    return created


def ingest(source, data: bytes, fmt: str = "syslog") -> None:
    job = ingestion.create_job(actor=None, source=source, fmt=fmt, stream=io.BytesIO(data), enqueue=False)
    for chunk_id in job.chunks.order_by("index").values_list("pk", flat=True):
        ingestion.process_chunk(chunk_id)


def counted(source, control: str = "8.5") -> int:
    rows = ControlEventCount.objects.filter(source=source, edition="2022", control=control)
    return rows.aggregate(n=Sum("events"))["n"] or 0


def test_a_repeated_line_counts_its_repetitions_in_the_soa_counters(source) -> None:
    ingest(source, REPEATED)
    assert Event.objects.filter(source=source).count() == 2
    reduced = Event.objects.get(source=source, position=1)
    assert (reduced.action, reduced.outcome, reduced.user, reduced.source_ip) == (
        "logon", "failure", "root", "203.0.113.9",
    )  # fmt: skip
    assert reduced.extra["repeated"] == 5
    assert counted(source) == 6  # the line logged once, then 5 more
    assert counter_disagreements(source) == []
    assert verify_source(source).intact


def test_an_unclassified_repeated_line_still_stands_for_its_repetitions(source) -> None:
    ingest(source, b"<13>Jan  5 10:00:00 web1 myapp[5]: message repeated 3 times: [ cache warmed]\n")
    assert Event.objects.get(source=source).extra["repeated"] == 3


def test_one_attempt_logged_by_pam_and_sshd_counts_once(source) -> None:
    ingest(source, PAM_THEN_SSHD)
    events = list(Event.objects.filter(source=source).order_by("position"))
    assert len(events) == 4  # every line stays stored
    assert [e.extra.get("same_attempt_as") for e in events] == [None, 0, None, 2]
    assert counted(source) == 2
    assert counter_disagreements(source) == []
    assert verify_source(source).intact


def test_the_lines_of_one_invalid_user_attempt_count_once(source) -> None:
    ingest(source, INVALID_USER)
    events = list(Event.objects.filter(source=source).order_by("position"))
    assert len(events) == 5
    assert [e.extra.get("same_attempt_as") for e in events] == [None, 0, 0, 0, 0]
    assert counted(source) == 1
    assert verify_source(source).intact


def test_lines_of_other_processes_peers_users_or_times_are_separate_attempts(source) -> None:
    ingest(source, OTHER_PROCESSES)
    assert not any("same_attempt_as" in e.extra for e in Event.objects.filter(source=source))
    assert counted(source) == 7
    assert verify_source(source).intact


def test_repeated_attempts_pair_only_with_as_many_repetitions(source) -> None:
    data = (
        b"<38>Jan  5 10:01:00 web1 sshd[200]: message repeated 2 times: [ pam_unix(sshd:auth): authentication "
        b"failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.7  user=alice]\n"
        b"<38>Jan  5 10:01:02 web1 sshd[200]: message repeated 3 times: [ Failed password for alice from "
        b"198.51.100.7 port 5000 ssh2]\n"
    )
    ingest(source, data)
    assert counted(source) == 5
    assert verify_source(source).intact


def test_a_forged_huge_repeat_count_is_capped_and_still_verifies(source) -> None:
    ingest(
        source,
        b"<38>Jan  5 10:00:30 web1 sshd[100]: message repeated 9999999999 times: [ Failed password for root from "
        b"203.0.113.9 port 4000 ssh2]\n",
    )
    assert Event.objects.get(source=source).extra["repeated"] == 9999999999
    assert counted(source) == 1_000_000
    assert verify_source(source).intact


def test_pushed_events_cannot_set_the_counting_markers(source) -> None:
    line = {"action": "logon", "outcome": "failure", "user": "x", "repeated": 1000, "same_attempt_as": 0}
    ingest(source, json.dumps(line).encode() + b"\n", fmt="ndjson")
    extra = Event.objects.get(source=source).extra
    assert "repeated" not in extra
    assert "same_attempt_as" not in extra
    assert (extra["supplied_repeated"], extra["supplied_same_attempt_as"]) == (1000, 0)
    assert counted(source) == 1
    assert verify_source(source).intact


def test_explorer_csv_and_api_show_the_count_and_the_same_attempt(source, client_for, isms_admin) -> None:
    ingest(source, REPEATED + PAM_THEN_SSHD)
    by_position = {e.position: e.pk for e in Event.objects.filter(source=source)}
    client = client_for("internal_auditor")

    page = client.get(reverse("evidence:events"))
    html = page.content.decode()
    assert 'data-count="5">\u00d75</span>' in html  # "x5" with a multiplication sign
    assert f'data-same-attempt-of="{by_position[2]}">same attempt</span>' in html
    rows = {row.pk: row for row in page.context["page"].rows}
    assert rows[by_position[1]].count == 5
    assert rows[by_position[3]].same_attempt_of == by_position[2]

    export = client.get(reverse("evidence:events_export"))
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    table = {int(row["id"]): row for row in csv.DictReader(io.StringIO(text))}
    assert table[by_position[1]]["count"] == "5"
    assert table[by_position[0]]["count"] == "1"
    assert table[by_position[3]]["same_attempt_of"] == str(by_position[2])
    assert table[by_position[2]]["same_attempt_of"] == ""

    api = APIClient()
    api.force_authenticate(isms_admin)
    results = {r["id"]: r for r in api.get("/api/events/", {"page_size": 50}).json()["results"]}
    assert results[by_position[1]]["count"] == 5
    assert results[by_position[0]]["count"] == 1
    assert results[by_position[3]]["same_attempt_of"] == by_position[2]
    assert results[by_position[2]]["same_attempt_of"] is None
    detail = api.get(f"/api/events/{by_position[1]}/").json()
    assert detail["count"] == 5
