"""In Chromium: an ISMS admin uploads a log and a session recording, watches the jobs finish on a
real Celery worker, finds the events in the explorer and plays the session back."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

import pytest
from django.conf import settings

from evidence import services
from evidence.models import Event, IngestionJob, SessionRecording
from evidence.synthetic import asciicast_session
from tests.conftest import PASSWORD, make_persona
from tests.evidence.test_pipeline import auth_log

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis, pytest.mark.postgresql]


def upload(page, path, fmt: str) -> None:
    page.goto("/evidence/upload/")
    page.get_by_label("Source").select_option(label="bastion")
    page.get_by_label("Format").select_option(fmt)
    page.get_by_label("Files").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/evidence/jobs/[0-9a-f-]+/$"))
    # The progress card polls (htmx) until the worker has stored every chunk.
    page.locator("#job-progress .badge.ok").wait_for(timeout=60_000)


def test_upload_watch_explore_and_play_back(page, celery_worker_process, tmp_path) -> None:
    admin = make_persona("isms_admin")
    services.create_source(actor=admin, name="bastion", owner=admin, hosts="bastion")
    worker = celery_worker_process(settings.CELERY_TASK_DEFAULT_QUEUE)  # parses the uploaded chunks
    log = tmp_path / "auth.log"
    log.write_bytes(auth_log(40) + b"no timestamp on this line\n")
    written = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
    os.utime(log, (written.timestamp(), written.timestamp()))  # the browser sends it as lastModified
    cast = tmp_path / "admin.cast"
    cast.write_bytes(
        asciicast_session(
            user="admin", host="bastion", started_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
            commands=[("sudo systemctl restart nginx", ""), ("whoami", "root")],
        )
    )  # fmt: skip

    page.goto("/login/")
    page.get_by_label("Username").fill("isms_admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")

    upload(page, log, "syslog")
    progress = page.locator("#job-progress")
    assert progress.locator('[data-figure="lines-read"]').inner_text() == "41"
    assert progress.locator('[data-figure="events-stored"]').inner_text() == "40"
    assert progress.locator('[data-figure="rejected"]').inner_text() == "1"
    assert "bad_timestamp 1" in progress.inner_text()
    assert Event.objects.count() == 40
    assert IngestionJob.objects.get(format="syslog").written_at == written

    page.goto("/evidence/events/?action=privilege_use")
    rows = page.locator("main table tbody tr")
    assert rows.count() == Event.objects.filter(action="privilege_use").count() > 0
    assert "sudo" in rows.first.inner_text()

    upload(page, cast, "asciicast")
    recording = SessionRecording.objects.get()
    page.goto("/evidence/sessions/?q=systemctl")
    page.get_by_role("link", name=re.compile("2026-03-01")).click()
    commands = page.locator("ol.commands")
    assert "sudo systemctl restart nginx" in commands.inner_text()
    page.get_by_label("Speed").select_option("20")
    page.get_by_role("button", name="Play").click()
    screen = page.locator("[data-screen]")
    page.wait_for_function("() => document.querySelector('[data-screen]').textContent.includes('root')")
    assert "admin@bastion:~$ whoami" in screen.inner_text()
    assert recording.user == "admin"
    assert page.console_errors == []  # type: ignore[attr-defined]
    worker.stop()
