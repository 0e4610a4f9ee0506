"""Machine-evidence health on the SoA: events ingested through the real pipeline make the same
control go from missing to fresh to stale against the sources' cadence, as the SoA page shows it,
with a drill-down to the events explorer filtered by that control."""

from __future__ import annotations

import html
import io
import re
import types
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from evidence import health, ingestion, services
from evidence.models import ControlEventCount, Event

pytestmark = pytest.mark.django_db

ROW = re.compile(r'<tr id="control-(?P<ref>[^"]+)" class="soa-row[^"]*">(?P<body>.*?)</tr>', re.S)
EVIDENCE_CELL = re.compile(
    r'<td class="evidence"><a class="health health-(?P<health>\w+)" href="(?P<href>[^"]+)" '
    r'title="(?P<title>[^"]*)">(?P<label>\w+)</a>\s*'
    r'<span class="muted small">(?P<events>\d+) · (?P<last>[^<]+)</span></td>'
)


def logon(when: datetime, pid: int) -> bytes:
    """An sshd logon as RFC 5424, dated ``when`` (full date, so its age is exact)."""
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"<38>1 {stamp} web1 sshd {pid} - - Accepted password for alice from 192.0.2.7 port 22 ssh2".encode()


def clock_change(when: datetime, pid: int) -> bytes:
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"<13>1 {stamp} web1 chronyd {pid} - - System clock wrong by 2.5 seconds, adjustment started".encode()


def ingest(source, lines: list[bytes]) -> None:
    """Through the real pipeline: a job cut into chunks, each processed as a worker would."""
    job = ingestion.create_job(
        actor=None, source=source, fmt="syslog", stream=io.BytesIO(b"\n".join(lines) + b"\n"), enqueue=False
    )
    for chunk_id in job.chunks.order_by("index").values_list("pk", flat=True):
        ingestion.process_chunk(chunk_id)
    job.refresh_from_db()
    summary = ingestion.job_summary(job)
    assert (summary["status"], summary["events_stored"], summary["rejected"]) == ("done", len(lines), 0), summary


def soa_evidence(client, edition: str = "2022") -> dict[str, dict | None]:
    """The machine-evidence cell of every control row of the SoA page, as shown."""
    page = client.get(reverse("controls:soa", args=[edition]))
    assert page.status_code == 200
    cells: dict[str, dict | None] = {}
    for row in ROW.finditer(page.content.decode()):
        found = EVIDENCE_CELL.search(row["body"])
        cells[row["ref"]] = found.groupdict() if found else None
        if found:
            assert found["health"] == found["label"]
    return cells


def move_clock(monkeypatch, by: timedelta) -> None:
    """The SoA computes health as if ``by`` had passed (only the health module's clock moves)."""
    later = timezone.now() + by
    monkeypatch.setattr(
        health, "timezone", types.SimpleNamespace(now=lambda: later, localdate=lambda: timezone.localdate(later))
    )


@pytest.fixture
def source(isms_admin):
    created, _token = services.create_source(actor=isms_admin, name="web1", owner=isms_admin, cadence_minutes=60)
    return created


@pytest.fixture
def officer(client_for, catalogue):
    return client_for("compliance_officer")


def test_the_same_control_goes_missing_fresh_stale_as_cadence_and_time_say(
    officer, source, isms_admin, monkeypatch
) -> None:
    before = soa_evidence(officer)
    assert before["8.5"]["health"] == "missing"  # a rule maps logons to 8.5, no source supplied one yet
    assert (before["8.5"]["events"], before["8.5"]["last"]) == ("0", "never")
    assert before["5.1"] is None  # no rule gives machine evidence for policies

    seen = (timezone.now() - timedelta(minutes=10)).replace(microsecond=0)
    ingest(source, [logon(seen - timedelta(seconds=i), 100 + i) for i in range(5)])
    fresh = soa_evidence(officer)
    assert fresh["8.5"]["health"] == "fresh"  # 10 minutes old, cadence 60
    assert fresh["8.5"]["events"] == "5"
    assert fresh["8.5"]["last"] == seen.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    assert fresh["8.5"]["title"] == "5 events in 30 days"
    assert fresh["8.2"]["health"] == "missing"  # privileged activity: none of the lines is
    assert fresh["8.17"]["health"] == "missing"  # clock changes: none yet

    move_clock(monkeypatch, timedelta(hours=2))  # nothing arrives for two hours
    assert soa_evidence(officer)["8.5"]["health"] == "stale"
    services.update_source(actor=isms_admin, source=source, cadence_minutes=180)
    assert soa_evidence(officer)["8.5"]["health"] == "fresh"  # 2 h 10 min is within 3 hours
    monkeypatch.undo()

    services.update_source(actor=isms_admin, source=source, cadence_minutes=5)
    stale = soa_evidence(officer)
    assert stale["8.5"]["health"] == "stale"  # 10 minutes old, but expected every 5
    assert (stale["8.5"]["events"], stale["8.5"]["last"]) == (fresh["8.5"]["events"], fresh["8.5"]["last"])

    ingest(source, [logon(timezone.now() - timedelta(minutes=1), 200)])
    again = soa_evidence(officer)
    assert again["8.5"]["health"] == "fresh"  # new evidence arrived within the cadence
    assert again["8.5"]["events"] == "6"


def test_the_2013_edition_shows_the_same_evidence_on_its_controls(officer, source) -> None:
    ingest(source, [logon(timezone.now() - timedelta(minutes=3), 1)])
    cells = soa_evidence(officer, "2013")
    assert cells["A.9.4.2"]["health"] == "fresh"
    assert cells["A.12.4.1"]["health"] == "fresh"
    assert cells["A.12.4.4"]["health"] == "missing"
    assert html.unescape(cells["A.9.4.2"]["href"]) == f"{reverse('evidence:events')}?edition=2013&control=A.9.4.2"


def test_the_drill_down_lists_the_events_of_that_control_only(officer, source) -> None:
    now = timezone.now()
    ingest(source, [*(logon(now - timedelta(minutes=i), 300 + i) for i in range(3)), clock_change(now, 400)])
    cells = soa_evidence(officer)
    assert cells["8.17"]["health"] == "fresh"
    href = html.unescape(cells["8.5"]["href"])
    assert href == f"{reverse('evidence:events')}?edition=2022&control=8.5"

    page = officer.get(href)
    assert page.status_code == 200
    listed = list(page.context["page"].rows)
    assert len(listed) == 3
    assert {event.action for event in listed} == {"logon"}
    assert b"System clock wrong" not in page.content
    assert page.content.count(b"Accepted password for alice") == 3

    clock = officer.get(html.unescape(cells["8.17"]["href"]))
    assert [event.program for event in clock.context["page"].rows] == ["chronyd"]
    assert Event.objects.filter(source=source).count() == 4


def test_events_outside_the_period_count_for_last_seen_but_not_in_the_period(officer, source) -> None:
    old = timezone.now() - timedelta(days=health.PERIOD_DAYS + 10)
    ingest(source, [logon(old - timedelta(seconds=i), 500 + i) for i in range(4)])
    cell = soa_evidence(officer)["8.5"]
    assert cell["health"] == "stale"
    assert cell["events"] == "0"  # none in the last 30 days
    assert cell["last"] == old.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def test_a_control_is_fresh_only_if_a_source_delivered_within_its_own_cadence(officer, isms_admin) -> None:
    """Two sources give logons, each overdue against its own cadence: the control is stale, even
    though the newest event of one is within the slower cadence of the other."""
    now = timezone.now()
    fast, _ = services.create_source(actor=isms_admin, name="fast", owner=isms_admin, cadence_minutes=5)
    slow, _ = services.create_source(actor=isms_admin, name="slow", owner=isms_admin, cadence_minutes=24 * 60)
    ingest(fast, [logon(now - timedelta(minutes=10), 1)])  # expected every 5 minutes
    ingest(slow, [logon(now - timedelta(days=3), 2)])  # expected daily
    assert soa_evidence(officer)["8.5"]["health"] == "stale"

    ingest(slow, [logon(now - timedelta(hours=1), 3)])  # the daily source is on schedule again
    cell = soa_evidence(officer)["8.5"]
    assert cell["health"] == "fresh"
    assert cell["events"] == "3"
    assert ControlEventCount.objects.filter(control="8.5").values("source").distinct().count() == 2


def test_supplier_activity_health_follows_the_configured_accounts(officer, isms_admin) -> None:
    vendor, _ = services.create_source(
        actor=isms_admin, name="vendor-host", owner=isms_admin, cadence_minutes=60, supplier_accounts="alice"
    )
    assert soa_evidence(officer)["5.22"]["health"] == "missing"
    ingest(vendor, [logon(timezone.now() - timedelta(minutes=2), 1)])
    assert soa_evidence(officer)["5.22"]["health"] == "fresh"  # alice is a supplier account here


def test_readers_see_health_and_others_do_not_see_the_soa(client_for, catalogue, source) -> None:
    ingest(source, [logon(timezone.now() - timedelta(minutes=2), 1)])
    for persona in ("compliance_officer", "risk_owner", "internal_auditor", "isms_admin"):
        assert soa_evidence(client_for(persona))["8.5"]["health"] == "fresh"
    for persona in ("external_auditor", "outsider"):
        assert client_for(persona).get(reverse("controls:soa", args=["2022"])).status_code == 403
