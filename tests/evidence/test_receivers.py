"""Receivers: browser upload, HTTP push (token, gzip, hostile bodies), the syslog receiver driven
by the real ``logger`` command over TCP and UDP, and the explorer, API and SoA views of the result."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from evidence import ingestion, services
from evidence.models import Event, EvidenceSource, IngestionJob
from tests.evidence.test_pipeline import auth_log

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def source_and_token(isms_admin):
    return services.create_source(
        actor=isms_admin, name="pushed", owner=isms_admin, default_format="syslog", supplier_accounts="bob"
    )


def run_queued_chunks(job: IngestionJob) -> IngestionJob:
    """What the Celery workers do with a queued job (the worker path is tested in test_workers)."""
    for chunk_id in job.chunks.order_by("index").values_list("pk", flat=True):
        ingestion.process_chunk(chunk_id)
    job.refresh_from_db()
    return job


@pytest.mark.django_db
class TestUpload:
    def test_many_files_become_jobs(self, client_for, source_and_token) -> None:
        source, _ = source_and_token
        files = [SimpleUploadedFile("a.log", auth_log(20)), SimpleUploadedFile("b.log", auth_log(30))]
        response = client_for("compliance_officer").post(
            reverse("evidence:upload"), {"source": source.pk, "format": "syslog", "files": files}
        )
        assert response.status_code == 302
        assert IngestionJob.objects.filter(receiver="upload").count() == 2
        for job in IngestionJob.objects.all():
            run_queued_chunks(job)
        assert Event.objects.filter(source=source).count() == 30  # the 20 lines of a.log are in b.log

    def test_progress_page(self, client_for, source_and_token) -> None:
        source, _ = source_and_token
        job = ingestion.create_job(
            actor=None, source=source, fmt="syslog", stream=io.BytesIO(auth_log(5) + b"bad\n"), enqueue=False
        )
        client = client_for("internal_auditor")
        queued = client.get(reverse("evidence:job", args=[job.pk]), HTTP_HX_REQUEST="true")
        assert b'hx-trigger="every 1s"' in queued.content
        run_queued_chunks(job)
        page = client.get(reverse("evidence:job", args=[job.pk]))
        assert b'data-figure="events-stored">5<' in page.content
        assert b"bad_timestamp" in page.content
        done = client.get(reverse("evidence:job", args=[job.pk]), HTTP_HX_REQUEST="true")
        assert b"hx-trigger" not in done.content

    @pytest.mark.parametrize(("data", "field"), [({"format": "nonsense"}, "format"), ({"files": []}, "files")])
    def test_bad_upload_is_refused_naming_the_field(self, client_for, source_and_token, data, field) -> None:
        source, _ = source_and_token
        payload = {"source": source.pk, "format": "syslog", "files": [SimpleUploadedFile("a.log", b"x\n")], **data}
        response = client_for("compliance_officer").post(reverse("evidence:upload"), payload)
        assert response.status_code == 400
        assert field in response.context["form"].errors
        assert not IngestionJob.objects.exists()

    def test_each_files_last_modified_decides_its_years(self, client_for, source_and_token) -> None:
        """The browser sends File.lastModified: a rotated log from two winters ago keeps its years."""
        source, _ = source_and_token
        winter = (
            b"Dec 31 23:59:00 web1 sshd[1]: Accepted password for alice from 192.0.2.7 port 22 ssh2\n"
            b"Jan  2 10:00:00 web1 sshd[2]: Accepted password for bob from 192.0.2.8 port 22 ssh2\n"
        )
        written = datetime(2025, 1, 3, 12, 0, tzinfo=UTC)
        files = [SimpleUploadedFile("auth.log.7", winter), SimpleUploadedFile("now.log", auth_log(3))]
        payload = {"source": source.pk, "format": "syslog", "files": files}
        payload["last_modified"] = f"{int(written.timestamp() * 1000)},"
        response = client_for("compliance_officer").post(reverse("evidence:upload"), payload)
        assert response.status_code == 302
        old, recent = IngestionJob.objects.get(filename="auth.log.7"), IngestionJob.objects.get(filename="now.log")
        assert (old.written_at, recent.written_at) == (written, None)
        run_queued_chunks(old)
        years = dict(Event.objects.filter(job=old).values_list("user", "time__year"))
        assert years == {"alice": 2024, "bob": 2025}

    @pytest.mark.parametrize(
        ("last_modified", "message"),
        [("1,2", "2 modification times for 1 files"), ("soon", "not a time"), ("1000", "before 1990")],
    )
    def test_bad_modification_times_are_refused(self, client_for, source_and_token, last_modified, message) -> None:
        source, _ = source_and_token
        payload = {"source": source.pk, "format": "syslog", "files": [SimpleUploadedFile("a.log", auth_log(2))]}
        response = client_for("compliance_officer").post(
            reverse("evidence:upload"), {**payload, "last_modified": last_modified}
        )
        assert response.status_code == 400
        assert message in str(response.context["form"].errors["last_modified"])
        assert not IngestionJob.objects.exists()


@pytest.mark.django_db
class TestHttpPush:
    def post(self, source, token, body, query="", **headers):
        return APIClient().post(
            f"/api/ingest/{source.name}/{query}",
            data=body,
            content_type="application/octet-stream",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            **headers,
        )

    def test_lines_are_accepted_with_202_and_a_job(self, source_and_token) -> None:
        source, token = source_and_token
        response = self.post(source, token, auth_log(40))
        assert response.status_code == 202
        job = IngestionJob.objects.get(pk=response.json()["job"])
        assert response["Location"] == reverse("ingestionjob-detail", args=[job.pk])
        assert run_queued_chunks(job).status == "done"
        assert Event.objects.filter(source=source).count() == 40

    def test_gzip_and_ndjson(self, source_and_token) -> None:
        source, token = source_and_token
        lines = [
            json.dumps(
                {
                    "time": "2026-03-01T10:00:00Z",
                    "host": "app1",
                    "user": "u1",
                    "action": "logon",
                    "outcome": "failure",
                    "message": "bad password",
                    "tenant": "t1",
                }
            ).encode()
        ]
        response = self.post(
            source,
            token,
            gzip.compress(b"\n".join(lines) + b"\n"),
            query="?format=ndjson",
            HTTP_CONTENT_ENCODING="gzip",
        )
        assert response.status_code == 202, response.json()
        run_queued_chunks(IngestionJob.objects.get())
        event = Event.objects.get()
        assert (event.user, event.action, event.outcome, event.extra) == ("u1", "logon", "failure", {"tenant": "t1"})

    @pytest.mark.parametrize("token", ["", "isms_wrong", "Token abc"])
    def test_bad_token_gets_401_json_and_stores_nothing(self, source_and_token, token) -> None:
        source, _ = source_and_token
        response = APIClient().post(
            f"/api/ingest/{source.name}/",
            data=b"x\n",
            content_type="text/plain",
            HTTP_AUTHORIZATION=f"Bearer {token}" if token else "",
        )
        assert response.status_code == 401
        assert "token" in response.json()["detail"]
        assert not IngestionJob.objects.exists()

    def test_token_of_another_source_is_refused(self, source_and_token, isms_admin) -> None:
        source, _ = source_and_token
        _, other_token = services.create_source(actor=isms_admin, name="other", owner=isms_admin)
        assert self.post(source, other_token, b"x\n").status_code == 401

    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (gzip.compress(auth_log(50))[:-20], "truncated_gzip"),
            (b"definitely not gzip", "bad_gzip"),
        ],
    )
    def test_hostile_gzip_is_refused_and_nothing_kept(self, source_and_token, body, reason) -> None:
        source, token = source_and_token
        blobs_before = sum(1 for _ in Path(settings.BLOB_ROOT).rglob("*"))
        response = self.post(source, token, body, HTTP_CONTENT_ENCODING="gzip")
        assert response.status_code == 400
        assert response.json()["reason"] == reason
        assert not IngestionJob.objects.exists()
        assert sum(1 for _ in Path(settings.BLOB_ROOT).rglob("*")) == blobs_before

    def test_decompression_bomb_is_refused_quickly(self, source_and_token) -> None:
        source, token = source_and_token
        compressor = gzip.GzipFile(fileobj=(buffer := io.BytesIO()), mode="wb")
        block = b"\0" * (1024 * 1024)
        for _ in range(200):
            compressor.write(block)
        compressor.close()
        started = time.monotonic()
        response = self.post(source, token, buffer.getvalue(), HTTP_CONTENT_ENCODING="gzip")
        assert response.status_code == 400
        assert response.json()["reason"] == "decompression_bomb"
        assert time.monotonic() - started < 20

    def test_unknown_format_and_encoding(self, source_and_token) -> None:
        source, token = source_and_token
        assert self.post(source, token, b"x", query="?format=pdf").status_code == 400
        assert self.post(source, token, b"x", HTTP_CONTENT_ENCODING="br").status_code == 415


LOGGER_VARIANTS = {
    # name: (logger options, transport): every framing and protocol the receiver must understand
    "tcpoctet": (("--tcp", "--octet-count", "--rfc5424"), "tcp"),
    "tcplf": (("--tcp", "--rfc5424"), "tcp"),  # RFC 6587 non-transparent (LF) framing
    "udp5424": (("--udp", "--rfc5424"), "udp"),
    "udp3164": (("--udp", "--rfc3164"), "udp"),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(shutil.which("logger") is None, reason="util-linux logger is not installed")
def test_logger_over_tcp_and_udp_reaches_the_events(isms_admin_tx, tmp_path) -> None:
    """The real ``logger`` (util-linux) sends RFC 5424 over TCP with octet counting and with LF
    framing, RFC 5424 over UDP and RFC 3164 over UDP: every message becomes its logon event."""
    from tests.evidence.test_syslog_server import ReceiverProcess, wait_for

    services.create_source(actor=None, name="syslog-test", owner=isms_admin_tx)
    receiver = ReceiverProcess(
        tmp_path / "receiver.log", "--source", "syslog-test", "--inline", "--flush-seconds", "0.2"
    )
    events = Event.objects.filter(source__name="syslog-test")
    expected = {f"{variant}{n}" for variant in LOGGER_VARIANTS for n in range(3)}
    try:
        for variant, (options, transport) in LOGGER_VARIANTS.items():
            host, port = getattr(receiver, transport)
            for n in range(3):
                message = f"Accepted publickey for {variant}{n} from 192.0.2.{n} port 22 ssh2"
                command = ["logger", *options, "-n", host, "-P", str(port), "-t", "sshd", message]
                subprocess.run(command, check=True, timeout=10)
        wait_for(lambda: events.count() >= len(expected))
        stats = receiver.stop()
    finally:
        receiver.kill()
    assert stats["messages"] == stats["messages_stored"] == len(expected)
    assert stats["malformed_frames"] == 0
    assert set(events.values_list("user", flat=True)) == expected
    assert events.filter(action="logon", outcome="success").count() == len(expected)
    assert set(events.filter(user__startswith="udp3164").values_list("program", flat=True)) == {"sshd"}
    assert EvidenceSource.objects.get(name="syslog-test").checkpoints.exists()


@pytest.mark.django_db
class TestViews:
    def test_events_explorer_filters_pages_and_exports(self, client_for, source_and_token) -> None:
        source, _ = source_and_token
        run_queued_chunks(
            ingestion.create_job(
                actor=None, source=source, fmt="syslog", stream=io.BytesIO(auth_log(250)), enqueue=False
            )
        )
        client = client_for("internal_auditor")
        page = client.get(reverse("evidence:events"), {"action": "logon"})
        assert len(page.context["page"].rows) == 100
        assert page.context["page"].next_cursor
        by_control = client.get(reverse("evidence:events"), {"edition": "2022", "control": "8.17"})
        assert {e.action for e in by_control.context["page"].rows} == {"clock_change"}
        export = client.get(reverse("evidence:events_export"), {"user": "alice", "action": "privilege_use"})
        lines = b"".join(export.streaming_content).decode("utf-8-sig").strip().splitlines()
        assert len(lines) == 1 + 62
        assert export["Content-Disposition"].startswith("attachment;")

    def test_api_events_with_filters_and_cursor(self, isms_admin, source_and_token) -> None:
        source, _ = source_and_token
        run_queued_chunks(
            ingestion.create_job(
                actor=None, source=source, fmt="syslog", stream=io.BytesIO(auth_log(40)), enqueue=False
            )
        )
        client = APIClient()
        client.force_authenticate(isms_admin)
        body = client.get("/api/events/", {"action": "logon", "outcome": "failure", "page_size": 5}).json()
        assert len(body["results"]) == 5
        assert {r["user"] for r in body["results"]} == {"bob"}
        assert "count" not in body
        assert client.get("/api/events/", {"since": "not a date"}).status_code == 400

    def test_soa_shows_machine_evidence_health(self, client_for, catalogue, source_and_token) -> None:
        source, _ = source_and_token
        source.cadence_minutes = 10**7  # the sample lines are dated January: still "fresh"
        source.save()
        run_queued_chunks(
            ingestion.create_job(
                actor=None, source=source, fmt="syslog", stream=io.BytesIO(auth_log(12)), enqueue=False
            )
        )
        page = client_for("compliance_officer").get(reverse("controls:soa", args=["2022"]))
        rows = {row.ref: row for section in page.context["sections"] for row in section.rows}
        assert rows["8.15"].evidence["health"] == "fresh"
        assert rows["8.17"].evidence["events"] >= 0
        assert rows["5.22"].evidence["health"] == "fresh"  # bob is a supplier account of the source
        assert rows["5.1"].evidence is None  # no rule gives machine evidence for policies
        assert b'class="health health-fresh"' in page.content

    def test_session_page_and_playback(self, client_for, source_and_token) -> None:
        from evidence.models import SessionRecording

        source, _ = source_and_token
        cast = b'{"version": 2, "width": 80, "height": 24}\n[0.1, "o", "<script>alert(1)</script>"]\n'
        run_queued_chunks(
            ingestion.create_job(actor=None, source=source, fmt="asciicast", stream=io.BytesIO(cast), enqueue=False)
        )
        recording = SessionRecording.objects.get()
        client = client_for("compliance_officer")
        page = client.get(reverse("evidence:session", args=[recording.pk]))
        assert b"<script>alert(1)</script>" not in page.content
        playback = client.get(reverse("evidence:session_playback", args=[recording.pk]))
        assert playback["Content-Disposition"].startswith("attachment;")
        assert playback["X-Content-Type-Options"] == "nosniff"
        assert b"alert(1)" in playback.content
