"""Every public sample file through the whole pipeline: every record is accounted for
(records with events + empty records + rejected records = records read) and the chains verify."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from evidence import ingestion, services
from evidence.verification import verify_source
from tests.conftest import SAMPLES

pytestmark = [pytest.mark.samples, pytest.mark.django_db]


def sample_files() -> list[tuple[str, Path]]:
    if not SAMPLES.is_dir():
        return []
    found: list[tuple[str, Path]] = []

    def add(fmt: str, pattern: str) -> None:
        found.extend((fmt, path) for path in sorted(SAMPLES.glob(pattern)) if path.is_file())

    add("syslog", "loghub/*.log")
    add("syslog", "loghub-linux-full/*.log")
    add("syslog", "elastic-beats/*.log")
    add("cef", "elastic-beats/cef.log")
    add("journald", "elastic-beats/*.json")
    add("syslog", "rsyslog/tests/fuzz/**/*")
    add("auditd", "go-libaudit/**/*.log")
    add("auditd", "laurel-auditd/*.txt")
    add("evtx", "**/*.evtx")
    add("asciicast", "asciinema/*.cast")
    add("asciicast", "asciinema/*.json")
    add("tlog", "tlog/journal-*.txt")
    return [(fmt, path) for fmt, path in found if not (fmt == "syslog" and path.name == "cef.log")]


def sudo_dirs() -> list[Path]:
    """Session directories: a timing file beside a log (fuzz-seed folders hold loose files)."""
    if not SAMPLES.is_dir():
        return []
    return sorted(
        p.parent
        for p in SAMPLES.glob("sudo/**/timing")
        if (p.parent / "log").is_file() or (p.parent / "log.json").is_file()
    )


@pytest.fixture
def sources(isms_admin):
    made: dict[str, object] = {}

    def get(fmt: str):
        if fmt not in made:
            made[fmt] = services.create_source(actor=None, name=f"corpus-{fmt}", owner=isms_admin, default_format=fmt)[
                0
            ]
        return made[fmt]

    return get


def run(source, fmt: str, stream) -> dict:
    job = ingestion.create_job(actor=None, source=source, fmt=fmt, stream=stream, enqueue=False)
    for chunk_id in job.chunks.order_by("index").values_list("pk", flat=True):
        ingestion.process_chunk(chunk_id)
    job.refresh_from_db()
    return ingestion.job_summary(job)


@pytest.mark.parametrize(
    ("fmt", "path"),
    sample_files(),
    ids=lambda v: v if isinstance(v, str) else str(v.relative_to(SAMPLES)) if isinstance(v, Path) else str(v),
)
def test_sample_is_fully_accounted_for(sources, fmt: str, path: Path) -> None:
    source = sources(fmt)
    with path.open("rb") as stream:
        summary = run(source, fmt, stream)
    assert summary["status"] == "done"
    assert summary["lines_read"] > 0
    assert summary["records_with_events"] + summary["records_empty"] + summary["rejected"] == summary["lines_read"]
    assert summary["events_stored"] + summary["duplicates"] >= summary["records_with_events"]
    assert sum(summary["rejected_by_reason"].values()) == summary["rejected"]
    assert verify_source(source).intact


@pytest.mark.parametrize("directory", sudo_dirs(), ids=lambda p: str(p.relative_to(SAMPLES)))
def test_sudo_io_log_directory_as_an_uploaded_archive(sources, directory: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(directory, arcname=directory.name)
    buffer.seek(0)
    summary = run(sources("sudo-io"), "sudo-io", buffer)
    assert summary["status"] == "done"
    assert summary["rejected"] == 0, summary
    assert summary["events_stored"] + summary["duplicates"] >= 1


def test_the_corpus_was_found() -> None:
    files = sample_files()
    assert len(files) > 40
    assert {fmt for fmt, _ in files} >= {"syslog", "cef", "journald", "auditd", "evtx", "asciicast", "tlog"}
    assert sudo_dirs()
