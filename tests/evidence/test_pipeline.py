"""The ingestion pipeline: chunking, idempotent writes, accounting, rules, integrity and tampering."""

from __future__ import annotations

import io
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from evidence import ingestion, integrity, services
from evidence.models import ChainLink, Checkpoint, ControlEventCount, Event, IngestionJob, RejectedRecord
from evidence.verification import verify_source
from tests.tampering import behind_the_apps_back, tamper

pytestmark = pytest.mark.django_db

LINES = [
    b"<38>Jan  5 10:%02d:%02d web1 sshd[%d]: Accepted password for alice from 192.0.2.7 port 22 ssh2",
    b"<38>Jan  5 10:%02d:%02d web1 sshd[%d]: Failed password for invalid user bob from 198.51.100.9 port 2 ssh2",
    b"<85>Jan  5 10:%02d:%02d web1 sudo[%d]:    alice : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/usr/bin/id",
    b"<13>Jan  5 10:%02d:%02d web1 chronyd[%d]: System clock wrong by 2.5 seconds, adjustment started",
]


def auth_log(lines: int) -> bytes:
    """Distinct lines (time and pid vary), one of each kind in turn."""
    body = [LINES[i % len(LINES)] % ((i // 60) % 60, i % 60, 1000 + i) for i in range(lines)]
    return b"\n".join(body) + b"\n"


@pytest.fixture
def source(isms_admin):
    created, _token = services.create_source(
        actor=isms_admin, name="web1", owner=isms_admin, supplier_accounts="bob, vendor1"
    )
    return created


def ingest(source, data: bytes, fmt: str = "syslog", chunk_bytes: int | None = None, monkeypatch=None):
    if chunk_bytes and monkeypatch:
        monkeypatch.setattr(ingestion, "CHUNK_BYTES", chunk_bytes)
    job = ingestion.create_job(actor=None, source=source, fmt=fmt, stream=io.BytesIO(data), enqueue=False)
    for chunk_id in job.chunks.order_by("index").values_list("pk", flat=True):
        ingestion.process_chunk(chunk_id)
    job.refresh_from_db()
    return job, ingestion.job_summary(job)


def test_a_file_is_cut_into_chunks_at_line_boundaries_and_fully_accounted(source, monkeypatch) -> None:
    data = auth_log(2000) + b"\x00binary garbage\n" + b"\xff\xfe not utf8\n" + b"\n"
    job, summary = ingest(source, data, chunk_bytes=20_000, monkeypatch=monkeypatch)
    assert job.chunks_total > 5
    chunks = list(job.chunks.order_by("index"))
    assert chunks[0].start_offset == 0
    assert chunks[-1].end_offset == len(data)
    assert all(a.end_offset == b.start_offset for a, b in itertools.pairwise(chunks))
    assert all(data[c.end_offset - 1 : c.end_offset] == b"\n" for c in chunks)
    assert summary["lines_read"] == 2003
    assert summary["events_stored"] == 2000
    assert summary["rejected"] == 2
    assert summary["rejected_by_reason"] == {"binary_data": 1, "bad_timestamp": 1}  # invalid UTF-8 is escaped
    assert summary["status"] == "done"
    rejected = RejectedRecord.objects.get(reason="binary_data")
    assert rejected.raw == b"\x00binary garbage"
    assert data[rejected.offset : rejected.offset + rejected.length] == b"\x00binary garbage\n"


def _journal_entries(count: int, pretty: bool) -> bytes:
    entries = []
    for i in range(count):
        entry = {
            "__REALTIME_TIMESTAMP": str(1_700_000_000_000_000 + i * 1_000_000),
            "_HOSTNAME": "web1",
            "SYSLOG_IDENTIFIER": "sshd",
            "_PID": str(100 + i),
            "MESSAGE": f"Accepted publickey for user{i} from 192.0.2.{i % 250} port 22 ssh2: {{ not a brace }}",
        }
        entries.append(json.dumps(entry, indent=8 if pretty else None).encode() + b"\n")
    return b"".join(entries)


@pytest.mark.parametrize("pretty", [False, True], ids=["json", "json-pretty"])
def test_a_journal_export_is_cut_into_chunks_at_entry_starts(source, monkeypatch, pretty) -> None:
    data = _journal_entries(600, pretty)
    job, summary = ingest(source, data, fmt="journald", chunk_bytes=8_000, monkeypatch=monkeypatch)
    chunks = list(job.chunks.order_by("index"))
    assert len(chunks) > 5
    assert all(data[c.start_offset : c.start_offset + 1] == b"{" for c in chunks)
    assert (summary["events_stored"], summary["rejected"]) == (600, 0)
    assert Event.objects.filter(job=job, action="logon").count() == 600
    assert verify_source(source).intact


def _audit_log(events: int) -> bytes:
    """Audit events of five records each, every two events' records interleaved (as auditd writes
    them when two CPUs log at once)."""
    lines = []
    for first in range(1000, 1000 + events, 2):
        pair = []
        for serial in (first, first + 1):
            stamp = f"audit(1700000000.{serial % 1000:03d}:{serial})"
            pair.append(
                [
                    f"type=SYSCALL msg={stamp}: arch=c000003e syscall=59 success=yes exit=0 items=1 ppid=1 "
                    f'pid={serial} auid=1001 uid=0 gid=0 euid=0 tty=pts2 ses=17 comm="id" exe="/usr/bin/id" key="exec"',
                    f'type=EXECVE msg={stamp}: argc=2 a0="id" a1="-u"',
                    f'type=CWD msg={stamp}: cwd="/root"',
                    f'type=PATH msg={stamp}: item=0 name="/usr/bin/id" inode=1 nametype=NORMAL',
                    f"type=EOE msg={stamp}: ",
                ]
            )
        lines += [line for records in zip(*pair, strict=True) for line in records]
    return ("\n".join(lines) + "\n").encode()


def test_an_audit_log_is_cut_into_chunks_only_between_events(source, monkeypatch) -> None:
    from evidence.parsers.auditd import event_id

    data = _audit_log(400)
    job, summary = ingest(source, data, fmt="auditd", chunk_bytes=6_000, monkeypatch=monkeypatch)
    chunks = list(job.chunks.order_by("index"))
    assert len(chunks) > 5
    for chunk in chunks[1:]:  # no event has records on both sides of a cut
        before = data[: chunk.start_offset].splitlines()[-20:]
        after = data[chunk.start_offset :].splitlines()[:20]
        assert not {event_id(line) for line in before} & {event_id(line) for line in after}
    assert (summary["events_stored"], summary["rejected"]) == (400, 0)
    assert set(Event.objects.filter(job=job).values_list("command", flat=True)) == {"id -u"}


@pytest.mark.parametrize("padding", [0, 1, 2, 65_535, 65_536, 65_537])
def test_chunk_boundaries_are_the_first_allowed_line_after_the_target(tmp_path, padding) -> None:
    from evidence.formats import JOURNAL_ENTRY

    data = b"{" + b"x" * (1_000 + padding) + b"\n  inside\n{" + b"y" * 500 + b"\n"
    path = tmp_path / "entries"
    path.write_bytes(data)
    boundary = data.index(b"\n{") + 1
    assert ingestion.plan_chunks(str(path), len(data), JOURNAL_ENTRY, chunk_bytes=1_000) == [
        (0, boundary),
        (boundary, len(data)),
    ]
    assert ingestion.plan_chunks(str(path), len(data), None, chunk_bytes=1_000) == [(0, len(data))]


def test_chunk_planning_never_holds_a_huge_line(tmp_path) -> None:
    """A file of one 40 MB line (or a few) is cut only at line ends, read in bounded pieces."""
    import tracemalloc

    from evidence.formats import ANY_LINE

    path = tmp_path / "one-line"
    with path.open("wb") as out:
        out.write(b"a" * (40 * 1024 * 1024) + b"\nshort\n" + b"b" * (3 * 1024 * 1024))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        ranges = ingestion.plan_chunks(str(path), size, ANY_LINE, chunk_bytes=1024 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    after_short = 40 * 1024 * 1024 + 1 + len(b"short\n")  # the first line end after a whole line
    assert ranges == [(0, after_short), (after_short, size)]
    assert peak < 2 * 1024 * 1024  # a few 64 KiB pieces, not the 40 MB line


def test_events_are_normalised_with_a_reference_to_their_raw_bytes(source) -> None:
    job, _ = ingest(source, auth_log(4))
    raw = auth_log(4)
    events = {e.action: e for e in Event.objects.filter(job=job)}
    logon = events["logon"]
    assert (logon.user, logon.source_ip, logon.outcome, logon.host, logon.program) == (
        "alice",
        "192.0.2.7",
        "success",
        "web1",
        "sshd",
    )
    assert (logon.time.month, logon.time.day, logon.time.hour, logon.time.tzinfo) == (1, 5, 10, UTC)
    assert raw[logon.raw_offset : logon.raw_offset + logon.raw_length].startswith(b"<38>Jan  5 10:00:00 web1 sshd")
    assert events["privilege_use"].target_user == "root"
    assert events["privilege_use"].command == "/usr/bin/id"
    # The extra fields are stored as a JSON object, queryable by key (not a JSON string of text).
    assert isinstance(logon.extra, dict)
    assert logon.extra["auth_method"] == "password"
    assert Event.objects.filter(job=job, extra__auth_event="ssh_accepted", extra__auth_method="password").count() == 1


def test_reingesting_the_same_file_stores_nothing_twice(source) -> None:
    ingest(source, auth_log(300))
    _, again = ingest(source, auth_log(300))
    assert (again["events_stored"], again["duplicates"]) == (0, 300)
    assert Event.objects.filter(source=source).count() == 300
    # An overlapping file (rotated log) adds only the new lines.
    _, overlap = ingest(source, auth_log(350))
    assert (overlap["events_stored"], overlap["duplicates"]) == (50, 300)


def test_identical_lines_in_one_file_are_each_stored_and_still_deduplicated(source) -> None:
    repeated = b"<38>Jan  5 11:00:00 web1 sshd[77]: Failed password for root from 203.0.113.5 port 22 ssh2\n"
    lines = auth_log(14).splitlines(keepends=True)
    data = b"".join(lines[:10]) + repeated * 3 + b"".join(lines[10:])
    _, first = ingest(source, data)
    assert (first["events_stored"], first["duplicates"]) == (17, 0)
    assert Event.objects.filter(source=source, source_ip="203.0.113.5").count() == 3
    _, again = ingest(source, data)
    assert (again["events_stored"], again["duplicates"]) == (0, 17)
    # A later file with the line twice more: the first two occurrences are already stored.
    _, later = ingest(source, repeated * 5)
    assert (later["events_stored"], later["duplicates"]) == (2, 3)
    assert verify_source(source).intact


def test_a_chunk_processed_twice_changes_nothing(source) -> None:
    job = ingestion.create_job(actor=None, source=source, fmt="syslog", stream=io.BytesIO(auth_log(100)), enqueue=False)
    chunk_id = job.chunks.get().pk
    ingestion.process_chunk(chunk_id)
    before = (
        Event.objects.count(),
        ChainLink.objects.count(),
        list(ControlEventCount.objects.order_by("pk").values_list("events")),
    )
    ingestion.process_chunk(chunk_id)  # redelivered message
    assert (
        Event.objects.count(),
        ChainLink.objects.count(),
        list(ControlEventCount.objects.order_by("pk").values_list("events")),
    ) == before


def test_rules_count_evidence_per_control_and_supplier_accounts(source) -> None:
    ingest(source, auth_log(8))
    counts = dict(ControlEventCount.objects.filter(edition="2022").values_list("control", "events"))
    assert counts["8.5"] == 4  # logons: accepted + failed, twice
    assert counts["8.2"] == 2  # privileged activity (sudo)
    assert counts["8.17"] == 2  # clock changes
    assert counts["5.22"] == 2  # "bob" is a supplier account of this source
    assert counts["8.15"] == 6  # logons and privileged activity, each event once


def test_chain_and_checkpoint_verify(source) -> None:
    ingest(source, auth_log(50))
    ingest(source, auth_log(80))
    assert ChainLink.objects.filter(source=source).count() == 2
    checkpoint = Checkpoint.objects.filter(source=source).latest("seq")
    message = integrity.checkpoint_message(source.name, checkpoint.seq, checkpoint.link_hash)
    assert integrity.signature_valid(message, checkpoint.signature)
    result = verify_source(source)
    assert result.intact, result.detail
    assert result.events_checked == 80


TABLE = Event._meta.db_table


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("alter", "event altered"),
        ("delete", "events deleted or inserted"),
        ("insert", "events deleted or inserted"),
        ("reorder", "Merkle root differs"),
    ],
)
def test_tampering_is_detected_and_named(source, how, expected) -> None:
    job, _ = ingest(source, auth_log(40))
    events = list(Event.objects.filter(job=job).order_by("position"))
    victim, other = events[7], events[20]
    if how == "alter":
        tamper(f"UPDATE {TABLE} SET {connection.ops.quote_name('user')} = %s WHERE id = %s", ["mallory", victim.pk])
    elif how == "delete":
        tamper(f"DELETE FROM {TABLE} WHERE id = %s", [victim.pk])
    elif how == "insert":  # a forged event, consistent with its own hash
        fake = Event.objects.filter(pk=victim.pk).values()[0]
        fake.pop("id")
        fake.update(position=9999, dedup_key=b"x" * 32, message="forged")
        fake["leaf_hash"] = integrity.leaf_hash(fake)
        Event.objects.create(**fake)  # INSERT is what an append-only table allows
    else:
        tamper(f"UPDATE {TABLE} SET position = 1000000 WHERE id = %s", [victim.pk])
        tamper(f"UPDATE {TABLE} SET position = %s WHERE id = %s", [victim.position, other.pk])
        tamper(f"UPDATE {TABLE} SET position = %s WHERE id = %s", [other.position, victim.pk])
    result = verify_source(source)
    assert not result.intact
    assert expected in result.detail
    assert result.first_bad.startswith("batch 1")
    if how == "alter":
        assert f"position {victim.position} (event id {victim.pk})" in result.first_bad
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("verify_evidence", "--source", source.name, stdout=io.StringIO(), stderr=io.StringIO())


def test_rewritten_history_is_caught_by_the_signed_checkpoint(source) -> None:
    """Someone who recomputes every hash still cannot forge the Ed25519 signature."""
    job, _ = ingest(source, auth_log(10))
    event = Event.objects.filter(job=job).order_by("position").first()
    fields = Event.objects.filter(pk=event.pk).values(*integrity.CANONICAL_FIELDS)[0]
    fields["user"] = "mallory"
    forged_leaf = integrity.leaf_hash(fields)
    with behind_the_apps_back():
        Event.objects.filter(pk=event.pk).update(user="mallory", leaf_hash=forged_leaf)
    leaves = [
        forged_leaf if e.pk == event.pk else bytes(e.leaf_hash)
        for e in Event.objects.filter(job=job).order_by("position")
    ]
    link = ChainLink.objects.get(source=source)
    root = integrity.merkle_root(leaves)
    new_hash = integrity.link_hash(link.prev_hash, link.seq, link.count, root)
    with behind_the_apps_back():
        ChainLink.objects.filter(pk=link.pk).update(merkle_root=root, link_hash=new_hash)
    type(source).objects.filter(pk=source.pk).update(chain_hash=new_hash)
    source.refresh_from_db()
    result = verify_source(source)
    assert not result.intact
    assert "checkpoint at batch 1" in result.detail


def _cut_last_batch(source) -> None:
    """What someone with database access does to hide the newest evidence: delete the last batch's
    events, chain link and checkpoint, and point the source's head back at the batch before."""
    last = ChainLink.objects.filter(source=source).latest("seq")
    with behind_the_apps_back():
        Event.objects.filter(chunk_id=last.chunk_id).delete()
        Checkpoint.objects.filter(source=source, seq=last.seq).delete()
        last.delete()
    type(source).objects.filter(pk=source.pk).update(chain_seq=last.seq - 1, chain_hash=last.prev_hash)


@pytest.mark.parametrize("chunk_rows_too", [False, True])
def test_a_chain_cut_short_is_caught_by_the_journal_outside_the_database(
    source, settings, tmp_path, django_capture_on_commit_callbacks, chunk_rows_too
) -> None:
    settings.EVIDENCE_CHECKPOINT_JOURNAL = tmp_path / "journal.jsonl"
    for lines in (20, 40, 60):
        with django_capture_on_commit_callbacks(execute=True):
            ingest(source, auth_log(lines))
    journaled = [json.loads(line) for line in settings.EVIDENCE_CHECKPOINT_JOURNAL.read_text().splitlines()]
    assert [entry["seq"] for entry in journaled] == [1, 2, 3]
    assert verify_source(source).intact
    last = ChainLink.objects.filter(source=source).latest("seq")
    _cut_last_batch(source)
    if chunk_rows_too:  # the thorough intruder also removes the ingestion records
        IngestionJob.objects.filter(chunks__pk=last.chunk_id).update(status="queued")
        RejectedRecord.objects.filter(chunk_id=last.chunk_id).delete()
        type(last.chunk).objects.filter(pk=last.chunk_id).update(status="pending")
    result = verify_source(source)
    assert not result.intact
    assert result.first_bad == "batch 3"
    assert "journal outside the database records batch 3, the chain ends at batch 2" in result.detail
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("verify_evidence", "--source", source.name, stdout=io.StringIO(), stderr=io.StringIO())


def test_a_source_record_altered_or_deleted_behind_the_journal_is_caught(
    source, settings, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ingest(source, auth_log(20))
        ingest(source, auth_log(40))
    _cut_last_batch(source)
    # Hiding the cut by making the source look like another one: a new creation time.
    type(source).objects.filter(pk=source.pk).update(created_at=source.created_at + timedelta(microseconds=1))
    result = verify_source(source)
    assert not result.intact
    assert result.first_bad == "source record"
    assert f"knows source id {source.pk} as created at" in result.detail
    # Deleting the source and everything of it: the journal still knows it.
    with behind_the_apps_back():
        Event.objects.filter(source=source).delete()
        Checkpoint.objects.filter(source=source).delete()
        ChainLink.objects.filter(source=source).delete()
    RejectedRecord.objects.filter(chunk__job__source=source).delete()
    IngestionJob.objects.filter(source=source).delete()
    type(source).objects.filter(pk=source.pk).delete()
    with pytest.raises(CommandError, match="BROKEN") as broken:
        call_command("verify_evidence", stdout=io.StringIO(), stderr=io.StringIO())
    assert f"source id(s) {source.pk}: in the checkpoint journal" in str(broken.value)


def test_a_journal_that_cannot_be_written_does_not_fail_the_chunk(
    source, settings, tmp_path, django_capture_on_commit_callbacks, caplog
) -> None:
    (tmp_path / "not-a-folder").write_text("")
    settings.EVIDENCE_CHECKPOINT_JOURNAL = tmp_path / "not-a-folder" / "journal.jsonl"
    with django_capture_on_commit_callbacks(execute=True):
        _, summary = ingest(source, auth_log(10))
    assert (summary["status"], summary["events_stored"]) == ("done", 10)
    assert Checkpoint.objects.filter(source=source).exists()
    assert "journal" in caplog.text or "not-a-folder" in caplog.text


def test_without_a_journal_a_cut_chain_is_still_caught_by_its_ingestion_records(source, settings, tmp_path) -> None:
    settings.EVIDENCE_CHECKPOINT_JOURNAL = tmp_path / "absent.jsonl"
    ingest(source, auth_log(20))
    ingest(source, auth_log(40))
    last = ChainLink.objects.filter(source=source).latest("seq")
    _cut_last_batch(source)
    result = verify_source(source)
    assert not result.intact
    assert result.first_bad == f"chunk 0 of job {last.chunk.job_id}"
    assert "its batch is missing from the chain" in result.detail


def test_a_source_created_again_under_the_same_name_starts_a_new_journal(
    isms_admin, settings, tmp_path, django_capture_on_commit_callbacks
) -> None:
    settings.EVIDENCE_CHECKPOINT_JOURNAL = tmp_path / "journal.jsonl"
    first, _ = services.create_source(actor=isms_admin, name="reborn", owner=isms_admin)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(first, auth_log(20))
        ingest(first, auth_log(30))
    # A fresh database (same key, same journal) holds another source of that name.
    type(first).objects.filter(pk=first.pk).update(name="old-reborn")
    second, _ = services.create_source(actor=isms_admin, name="reborn", owner=isms_admin)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(second, auth_log(5))
    assert verify_source(second).intact


def test_ingest_command_prints_a_json_summary(isms_admin, tmp_path, capsys) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(auth_log(30) + b"garbage line without a date\n")
    out = io.StringIO()
    call_command("ingest", "--source", "cmd-source", "--format", "rfc3164", str(log), stdout=out)
    summary = json.loads(out.getvalue())
    assert {k: summary[k] for k in ("lines_read", "events_stored", "duplicates", "rejected")} == {
        "lines_read": 31,
        "events_stored": 30,
        "duplicates": 0,
        "rejected": 1,
    }
    assert summary["rejected_by_reason"] == {"bad_timestamp": 1}
    assert IngestionJob.objects.get().source.name == "cmd-source"  # created on first use


def test_ingest_command_infers_the_missing_year_from_the_file_time(isms_admin, tmp_path) -> None:
    """An auth.log from two winters ago gets its own years, not this year's."""
    import os
    from datetime import datetime

    log = tmp_path / "auth.log.7"
    log.write_bytes(
        b"Dec 31 23:59:00 web1 sshd[1]: Accepted password for alice from 192.0.2.7 port 22 ssh2\n"
        b"Jan  2 10:00:00 web1 sshd[2]: Accepted password for bob from 192.0.2.8 port 22 ssh2\n"
    )
    written = datetime(2025, 1, 3, 12, 0, tzinfo=UTC).timestamp()
    os.utime(log, (written, written))
    call_command("ingest", "--source", "old-host", "--format", "syslog", str(log), stdout=io.StringIO())
    job = IngestionJob.objects.get(source__name="old-host")
    assert job.written_at == datetime(2025, 1, 3, 12, 0, tzinfo=UTC)
    years = dict(Event.objects.filter(job=job).values_list("user", "time__year"))
    assert years == {"alice": 2024, "bob": 2025}


def test_ingest_command_refuses_bad_arguments(isms_admin, tmp_path) -> None:
    with pytest.raises(CommandError, match="Not a file"):
        call_command("ingest", "--source", "x", "--format", "syslog", str(tmp_path / "missing.log"))
    with pytest.raises(CommandError):
        call_command("ingest", "--source", "x", "--format", "nonsense", str(tmp_path))
    log = tmp_path / "auth.log"
    log.write_bytes(auth_log(3))
    with pytest.raises(CommandError, match="No active user 'ghost'"):
        call_command("ingest", "--source", "x", "--format", "syslog", "--owner", "ghost", str(log))
    assert not IngestionJob.objects.exists()


def test_ingest_command_without_any_admin_asks_for_an_owner(personas, compliance_officer, tmp_path) -> None:
    personas["isms_admin"].is_active = False
    personas["isms_admin"].save()
    log = tmp_path / "auth.log"
    log.write_bytes(auth_log(3))
    with pytest.raises(CommandError, match="pass --owner USERNAME"):
        call_command("ingest", "--source", "x", "--format", "syslog", str(log))
    call_command(
        "ingest", "--source", "x", "--format", "syslog", "--owner", "compliance_officer", str(log), stdout=io.StringIO()
    )
    assert IngestionJob.objects.get().source.owner == compliance_officer


def test_session_recordings_become_searchable_sessions_with_events(source) -> None:
    from evidence.models import SessionRecording

    cast = (
        b'{"version": 2, "width": 80, "height": 24, "timestamp": 1700000000, "env": {"USER": "carol"}}\n'
        b'[0.5, "i", "sudo -i"]\n[0.51, "o", "sudo -i"]\n[0.6, "i", "\\r"]\n[0.61, "o", "\\r\\n# "]\n'
        b'[1.0, "i", "cat /etc/shadow"]\n[1.01, "o", "cat /etc/shadow"]\n[1.1, "i", "\\r"]\n'
        b'[1.2, "o", "\\r\\nroot:*:...\\r\\n"]\n'
    )
    job, summary = ingest(source, cast, fmt="asciicast")
    recording = SessionRecording.objects.get()
    assert [c["text"] for c in recording.commands] == ["sudo -i", "cat /etc/shadow"]
    assert summary["events_stored"] >= 3
    commands = Event.objects.filter(job=job, action="command").values_list("command", flat=True)
    assert set(commands) == {"sudo -i", "cat /etc/shadow"}
    assert ControlEventCount.objects.filter(edition="2013", control="A.12.4.3").exists()  # session recordings
    # the playback copy is an asciicast v2 document
    from ismsapp.blobs import blob_path

    header = json.loads(blob_path(recording.playback_sha256).read_bytes().split(b"\n")[0])
    assert header["version"] == 2


def _tlog(*ids: int) -> bytes:
    fields = {"ver": "2.2", "host": "web1", "rec": "rec-1", "user": "carol", "term": "xterm", "session": 7}
    messages = [
        {**fields, "id": i, "pos": i * 10, "timing": ">1", "in_txt": "", "in_bin": [], "out_txt": "x", "out_bin": []}
        for i in ids
    ]
    return b"".join(json.dumps(message).encode() + b"\n" for message in messages)


@pytest.mark.parametrize(
    ("fmt", "data", "gap"),
    [
        ("tlog", _tlog(1, 2, 5), True),  # messages 3-4 lost: part of the session is missing
        ("tlog", _tlog(1, 2, 3), False),
        # A header without a terminal size is a warning, but nothing of the session is missing.
        ("asciicast", b'{"version": 2, "timestamp": 1700000000}\n[0.5, "o", "$ "]\n', False),
    ],
)
def test_only_missing_parts_of_a_recording_count_as_a_recording_gap(source, fmt, data, gap) -> None:
    from evidence.models import SessionRecording

    job, _ = ingest(source, data, fmt=fmt)
    assert SessionRecording.objects.get().warnings or fmt == "tlog"
    gaps = Event.objects.filter(job=job, action="log_cleared", extra__recording_gap=True)
    assert gaps.count() == int(gap)
    assert ControlEventCount.objects.filter(edition="2013", control="A.12.4.2").exists() == gap  # gaps only
    if gap:
        assert "missing_messages" in gaps.get().message


def test_an_event_counts_once_per_control_however_many_rules_map_to_it(source) -> None:
    """Commands typed in a recorded session are both "commands" and "session recordings": two
    rules, both 8.15 / A.12.4.3-ish, but one event each on the SoA."""
    from controls.soa import SoARow
    from evidence.health import add_machine_evidence

    cast = (
        b'{"version": 2, "width": 80, "height": 24, "timestamp": %d, "env": {"USER": "carol"}}\n'
        b'[0.5, "i", "id"]\n[0.6, "i", "\\r"]\n[1.0, "i", "uptime"]\n[1.1, "i", "\\r"]\n'
    ) % int(datetime.now(UTC).timestamp() - 3600)
    job, _ = ingest(source, cast, fmt="asciicast")
    events = Event.objects.filter(job=job)
    assert events.filter(action="command").count() == 2
    counted = dict(ControlEventCount.objects.filter(edition="2022").values_list("control", "events"))
    assert counted["8.15"] == events.count()  # not command + session_recording
    row = SoARow(ref="8.15", title="Logging", section_ref="8", section_title="Technological", edition="2022")
    add_machine_evidence([row])
    assert row.evidence["events"] == events.count()
    assert row.evidence["health"] == "fresh"


def test_a_10_mb_line_is_rejected_without_stopping_the_job(source) -> None:
    data = auth_log(3) + b"<13>Jan  5 10:00:00 web1 app: " + b"A" * (10 * 1024 * 1024) + b"\n" + auth_log(6)
    _, summary = ingest(source, data)
    assert summary["rejected_by_reason"] == {"line_too_long": 1}
    assert summary["events_stored"] >= 3
    assert summary["records_with_events"] + summary["records_empty"] + summary["rejected"] == summary["lines_read"]
    from evidence.models import RejectedRecord

    assert len(RejectedRecord.objects.get(reason="line_too_long").raw) == RejectedRecord.RAW_CAP


@pytest.mark.parametrize(
    ("member", "reason"),
    [("../../etc/cron.d/evil", "unsafe_path"), ("/etc/passwd", "unsafe_path")],
)
def test_hostile_session_archive_is_rejected_and_writes_nothing(source, tmp_path, member, reason) -> None:
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(member)
        info.size = 5
        archive.addfile(info, io.BytesIO(b"owned"))
    before = set(tmp_path.parent.rglob("*"))
    _, summary = ingest(source, buffer.getvalue(), fmt="sudo-io")
    assert summary["rejected_by_reason"] == {reason: 1}
    assert summary["events_stored"] == 0
    assert set(tmp_path.parent.rglob("*")) == before
    assert not Path("/etc/cron.d/evil").exists()


def test_staged_copy_keeps_only_new_records(source) -> None:
    """The path a chunk takes when a concurrent chunk stored one of its records meanwhile."""
    from evidence import writer

    if connection.vendor != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    job, _ = ingest(source, auth_log(5))
    stored = list(Event.objects.filter(job=job).order_by("position").values_list(*writer.COLUMNS))
    extra = writer.COLUMNS.index("extra")
    rows = [writer.EventRow(*row[:extra], integrity.extra_json(row[extra]), *row[extra + 1 :]) for row in stored]
    again = [row._replace(chunk_id=row.chunk_id, position=100 + i) for i, row in enumerate(rows)]
    fresh = rows[0]._replace(dedup_key=b"n" * 32, position=200)
    inserted = writer._copy_staged([*again, fresh])
    assert inserted == {200}


def test_rows_carry_the_hashed_values_in_canonical_order() -> None:
    """ChunkBuilder writes the hashed values straight into the row: both layouts must agree."""
    from evidence import integrity, writer

    start = writer.COLUMNS.index("time")
    assert writer.COLUMNS[start : start + len(integrity.CANONICAL_FIELDS) - 1] == integrity.CANONICAL_FIELDS[:-1]
    assert integrity.CANONICAL_FIELDS[-1] == "dedup_key"


@pytest.mark.postgresql
@pytest.mark.parametrize("model", [Event, ChainLink, Checkpoint])
def test_the_database_refuses_to_change_or_remove_evidence(source, model) -> None:
    from django.db import IntegrityError, transaction

    ingest(source, auth_log(10))
    row = model.objects.filter(source=source).first()
    for change in (lambda: model.objects.filter(pk=row.pk).update(source=source), row.delete):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            change()
    assert model.objects.filter(pk=row.pk).exists()


def test_per_control_counters_are_checked_against_the_events(source) -> None:
    """The SoA's figures come from counters: verify_evidence says which disagree with the events."""
    from evidence.models import ControlEventCount
    from evidence.verification import counter_disagreements

    ingest(source, auth_log(40))
    assert counter_disagreements(source) == []
    counter = ControlEventCount.objects.filter(source=source, edition="2022", control="8.15").first()
    ControlEventCount.objects.filter(pk=counter.pk).update(events=counter.events + 5)
    wrong = counter_disagreements(source)
    assert len(wrong) == 1
    assert wrong[0].startswith("2022 8.15: counted ")
    result = verify_source(source)
    assert not result.intact
    assert result.first_bad == "per-control counters"
    assert "2022 8.15" in result.detail


def test_ingestion_is_not_audit_trail_noise(source, monkeypatch, isms_admin) -> None:
    """15 chunks used to leave 17 audit entries (the job, and the source's chain head per chunk),
    each taking the audit trail's one lock; the job page keeps who sent what."""
    from ismsapp.models import AuditEntry

    before = AuditEntry.objects.count()
    monkeypatch.setattr(ingestion, "CHUNK_BYTES", 2_000)
    job = ingestion.create_job(
        actor=isms_admin, source=source, fmt="syslog", stream=io.BytesIO(auth_log(300)), enqueue=False
    )
    for chunk_id in job.chunks.order_by("index").values_list("pk", flat=True):
        ingestion.process_chunk(chunk_id)
    assert job.chunks_total >= 10
    assert AuditEntry.objects.count() == before
    source.refresh_from_db()
    assert source.chain_seq == job.chunks_total
    job.refresh_from_db()
    assert (job.status, job.created_by) == ("done", isms_admin)
    assert verify_source(source).intact
