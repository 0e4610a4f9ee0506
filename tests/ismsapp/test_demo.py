"""`make setup`'s demo data: people, SoA, risks and machine evidence, loaded idempotently."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from controls.models import SoAVersion
from evidence.models import ControlEventCount, Event, EvidenceSource, RejectedRecord, SessionRecording
from evidence.verification import verify_source
from ismsapp.models import User
from risks.models import Risk, RiskAcceptance

pytestmark = pytest.mark.django_db


def setup_demo() -> str:
    out = io.StringIO()
    call_command("setup_demo", stdout=out)
    return out.getvalue()


def test_demo_is_complete_and_idempotent(catalogue, settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    first = setup_demo()
    credentials = json.loads((tmp_path / "demo-credentials.json").read_text())
    assert sorted(credentials) == ["admin", "auditor", "compliance", "external", "riskowner"]
    for username, password in credentials.items():
        assert f"username: {username:<12} password: {password}" in first
    assert SoAVersion.objects.filter(edition="2022").count() == 1
    assert Risk.objects.count() == 8
    assert RiskAcceptance.objects.count() == 2
    # Machine evidence: a bastion's auth.log and one recorded administrator session.
    assert set(EvidenceSource.objects.values_list("name", flat=True)) == {"bastion-auth", "bastion-sessions"}
    assert Event.objects.count() > 3000
    assert RejectedRecord.objects.count() == 1  # the line without a syslog header, kept with its reason
    recording = SessionRecording.objects.get()
    assert recording.user == "admin"
    assert "sudo useradd -m -s /bin/bash intern01" in recording.command_text
    controls = set(ControlEventCount.objects.values_list("edition", "control"))
    assert {
        ("2022", "8.5"),  # logons
        ("2022", "8.2"),  # privileged activity and session recordings
        ("2013", "A.12.4.3"),  # session recordings (and privileged activity)
        ("2022", "5.22"),  # supplier accounts
        ("2013", "A.12.4.2"),  # log cleared
        ("2022", "8.17"),  # clock changes
    } <= controls
    for source in EvidenceSource.objects.all():
        assert verify_source(source).intact
    counts = (User.objects.count(), Risk.objects.count(), Event.objects.count(), SessionRecording.objects.count())
    second = setup_demo()
    assert "demo evidence already present" in second
    assert (
        User.objects.count(),
        Risk.objects.count(),
        Event.objects.count(),
        SessionRecording.objects.count(),
    ) == counts
    assert json.loads((tmp_path / "demo-credentials.json").read_text()) == credentials


def test_demo_evidence_shows_on_the_soa_page(catalogue, settings, tmp_path, client) -> None:
    settings.VAR_DIR = tmp_path
    setup_demo()
    client.force_login(User.objects.get(username="compliance"))
    html = client.get(reverse("controls:soa", args=["2022"])).content.decode()
    for ref in ("8.15", "8.5", "8.2", "5.22", "8.17"):  # logons, sessions, supplier, clock: all fresh
        assert re.search(rf'health-fresh" href="[^"]*control={re.escape(ref)}"', html), ref
    explorer = client.get(
        reverse("evidence:events"),
        {"source": EvidenceSource.objects.get(name="bastion-auth").pk, "action": "clock_change"},
    )
    assert explorer.status_code == 200
    assert "System clock wrong by -2.415012 seconds" in explorer.content.decode()
