"""Rotated logs arrive gzip-compressed (auth.log.2.gz): every receiver takes them like the plain
file, and refuses a damaged or hostile one with its reason, storing nothing of it."""

from __future__ import annotations

import gzip
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from evidence import ingestion, services
from evidence.models import Event, IngestionJob
from evidence.parsers.base import ParseError
from evidence.parsers.inflate import inflated_if_gzip
from ismsapp.blobs import blob_root
from tests.evidence.test_pipeline import auth_log, ingest

pytestmark = pytest.mark.django_db

BOMB = gzip.compress(b"\0" * (24 * 1024 * 1024))  # 24 MiB of zeros in about 24 KiB


@pytest.fixture
def source(isms_admin):
    return services.create_source(actor=isms_admin, name="rotated", owner=isms_admin)[0]


def _blobs() -> set[str]:
    return {path.name for path in blob_root().rglob("*") if path.is_file()}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", b""),
        (b"x", b"x"),
        (b"\x1f", b"\x1f"),  # the first byte of the magic only
        (b"plain text\n", b"plain text\n"),
        (gzip.compress(b"one\ntwo\n"), b"one\ntwo\n"),
        (gzip.compress(b"a\n") + gzip.compress(b"b\n"), b"a\nb\n"),  # several members, as logrotate may write
    ],
)
def test_streams_are_inflated_only_when_they_are_gzip(data: bytes, expected: bytes) -> None:
    assert inflated_if_gzip(io.BytesIO(data), 10**6).read() == expected


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (gzip.compress(b"line\n" * 1000)[:-12], "truncated_gzip"),
        (b"\x1f\x8b" + b"not deflate at all" * 10, "bad_gzip"),
        (BOMB, "decompression_bomb"),
    ],
)
def test_damaged_or_hostile_gzip_is_refused_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as refused:
        inflated_if_gzip(io.BytesIO(data), 10**9).read()
    assert refused.value.reason == reason


def test_gzip_beyond_the_size_limit_is_refused() -> None:
    with pytest.raises(ParseError, match="too_large"):
        inflated_if_gzip(io.BytesIO(gzip.compress(b"a\n" * 10_000)), 1_000).read()


def test_a_gzip_file_gives_the_same_events_as_the_plain_one(source) -> None:
    job, summary = ingest(source, gzip.compress(auth_log(40)))
    assert (summary["events_stored"], summary["rejected"]) == (40, 0)
    assert job.size == len(auth_log(40))  # the stored blob is the inflated text the offsets refer to
    _, again = ingest(source, auth_log(40))
    assert (again["events_stored"], again["duplicates"]) == (0, 40)


def test_ingest_command_reads_gz_and_refuses_a_truncated_one(isms_admin, source, tmp_path) -> None:
    good, cut = tmp_path / "auth.log.2.gz", tmp_path / "auth.log.3.gz"
    good.write_bytes(gzip.compress(auth_log(12)))
    cut.write_bytes(gzip.compress(auth_log(300))[:-40])
    out = io.StringIO()
    call_command("ingest", "--source", source.name, "--format", "syslog", str(good), stdout=out)
    assert json.loads(out.getvalue())["events_stored"] == 12
    blobs = _blobs()
    with pytest.raises(CommandError, match=r"auth\.log\.3\.gz: truncated_gzip"):
        call_command("ingest", "--source", source.name, "--format", "syslog", str(cut), stdout=io.StringIO())
    assert IngestionJob.objects.count() == 1
    assert Event.objects.filter(source=source).count() == 12
    assert _blobs() == blobs  # nothing of the refused file left in the store


def test_upload_of_gz_files_and_a_bomb_among_them(client_for, source) -> None:
    client = client_for("compliance_officer")
    ok = client.post(
        reverse("evidence:upload"),
        {
            "source": source.pk,
            "format": "syslog",
            "files": [SimpleUploadedFile("auth.log.1.gz", gzip.compress(auth_log(9)))],
        },
    )
    assert ok.status_code == 302
    job = IngestionJob.objects.get()
    for chunk_id in job.chunks.values_list("pk", flat=True):
        ingestion.process_chunk(chunk_id)
    assert Event.objects.filter(source=source).count() == 9
    refused = client.post(
        reverse("evidence:upload"),
        {"source": source.pk, "format": "syslog", "files": [SimpleUploadedFile("bomb.log.gz", BOMB)]},
    )
    assert refused.status_code == 400
    assert "bomb.log.gz: decompression_bomb" in str(refused.context["form"].errors["files"])
    assert IngestionJob.objects.count() == 1


def test_a_syslog_batch_that_starts_like_gzip_is_messages_not_a_file(source, monkeypatch) -> None:
    import django.db

    from evidence.syslog_server import job_writer

    # The writer drops stale connections between batches; here it would drop the test's transaction.
    monkeypatch.setattr(django.db, "close_old_connections", lambda: None)

    batch = b"\x1f\x8b not really gzip\n<13>Jan  5 10:00:00 web1 app: a real message\n"
    job = IngestionJob.objects.get(pk=job_writer(source, enqueue=False)(batch))
    summary = ingestion.job_summary(job)
    assert job.size == len(batch)
    assert summary["lines_read"] == 2
    assert summary["events_stored"] + summary["rejected"] == 2
    assert Event.objects.filter(job=job, message="a real message").exists()


def test_a_push_with_gzip_encoding_is_inflated_once(isms_admin) -> None:
    from rest_framework.test import APIClient

    source, token = services.create_source(actor=isms_admin, name="pushed-twice", owner=isms_admin)
    inner = gzip.compress(auth_log(5))
    response = APIClient().post(
        f"/api/ingest/{source.name}/?format=syslog",
        data=gzip.compress(inner),
        content_type="application/octet-stream",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_CONTENT_ENCODING="gzip",
    )
    assert response.status_code == 202, response.content
    assert IngestionJob.objects.get(pk=response.json()["job"]).size == len(inner)  # one layer off, not two
