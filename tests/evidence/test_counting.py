"""Counting right (issue 13, item 5): a reduced "message repeated N times" line counts N, and one
authentication attempt logged by sshd and by PAM counts once, in the SoA's counters, the explorer,
the CSV export and the API; ``verify_evidence`` re-counts the same way."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
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


@pytest.fixture
def shown(source) -> dict[int, int]:
    """REPEATED then PAM_THEN_SSHD ingested: event ids by position."""
    ingest(source, REPEATED + PAM_THEN_SSHD)
    return {e.position: e.pk for e in Event.objects.filter(source=source)}


def test_the_explorer_shows_the_count_and_the_same_attempt(shown, client_for) -> None:
    page = client_for("internal_auditor").get(reverse("evidence:events"))
    html = page.content.decode()
    assert 'data-count="5">\u00d75</span>' in html  # "x5" with a multiplication sign
    assert f'data-same-attempt-of="{shown[2]}">same attempt</span>' in html
    assert html.count("same attempt</span>") == 2
    rows = {row.pk: row for row in page.context["page"].rows}
    assert rows[shown[1]].count == 5
    assert rows[shown[3]].same_attempt_of == shown[2]


def test_the_csv_export_has_count_and_same_attempt_columns(shown, client_for) -> None:
    export = client_for("internal_auditor").get(reverse("evidence:events_export"))
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    table = {int(row["id"]): row for row in csv.DictReader(io.StringIO(text))}
    assert table[shown[1]]["count"] == "5"
    assert table[shown[0]]["count"] == "1"
    assert table[shown[3]]["same_attempt_of"] == str(shown[2])
    assert table[shown[2]]["same_attempt_of"] == ""


def test_the_api_has_count_and_same_attempt_fields(shown, isms_admin) -> None:
    api = APIClient()
    api.force_authenticate(isms_admin)
    results = {r["id"]: r for r in api.get("/api/events/", {"page_size": 50}).json()["results"]}
    assert results[shown[1]]["count"] == 5
    assert results[shown[0]]["count"] == 1
    assert results[shown[3]]["same_attempt_of"] == shown[2]
    assert results[shown[2]]["same_attempt_of"] is None
    assert api.get(f"/api/events/{shown[1]}/").json()["count"] == 5


def test_the_soa_counts_repetitions_and_each_attempt_once(source, client_for, catalogue) -> None:
    from tests.evidence.test_health import soa_evidence

    stamp = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"<38>1 {stamp} web1 sshd 100 - - Failed password for root from 203.0.113.9 port 4000 ssh2",
        f"<38>1 {stamp} web1 sshd 100 - - message repeated 5 times: [ Failed password for root from 203.0.113.9 "
        "port 4000 ssh2]",
        f"<38>1 {stamp} web1 sshd 200 - - pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
        "tty=ssh ruser= rhost=198.51.100.7  user=alice",
        f"<38>1 {stamp} web1 sshd 200 - - Failed password for alice from 198.51.100.7 port 5000 ssh2",
    ]
    ingest(source, "\n".join(lines).encode() + b"\n")
    assert soa_evidence(client_for("compliance_officer"))["8.5"]["events"] == "7"  # 1 + 5 + 1


def test_an_attempt_cut_by_a_chunk_boundary_counts_twice_and_still_verifies(source, monkeypatch) -> None:
    """The documented limit: the lines of one attempt are recognised within a chunk only."""
    monkeypatch.setattr(ingestion, "CHUNK_BYTES", 100)  # chunks [filler, pam] [sshd, pam, sshd]
    filler = (
        b"<13>Jan  5 10:00:59 web1 chronyd[9]: System clock wrong by 2.5 seconds, adjustment started"
        + b"." * 40
        + b"\n"
    )
    ingest(source, filler + PAM_THEN_SSHD)
    events = Event.objects.filter(source=source)
    assert len({e.chunk_id for e in events}) == 2
    ordered = events.order_by("chunk_id", "position")
    assert [e.extra.get("same_attempt_as") for e in ordered] == [None, None, None, None, 1]
    assert counted(source) == 3  # the first attempt, cut in two, counts twice
    assert verify_source(source).intact
