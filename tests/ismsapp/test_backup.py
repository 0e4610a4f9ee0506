"""Backup and restore (ismsapp/backup.py): a round trip into a new database loses nothing and both
integrity checks pass on the restored copy; damaged or tampered backups, and restores over data, are
refused before anything is touched; the private key travels only when asked for."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from evidence import ingestion, integrity
from evidence import services as evidence_services
from evidence.models import Checkpoint
from ismsapp import backup, blobs
from ismsapp.celery import app as celery_app
from ismsapp.tasks import nightly_backup
from tests.conftest import make_persona

ROOT = Path(__file__).resolve().parents[2]
SYSLOG = b"".join(
    b"<38>Jan  5 10:00:%02d web1 sshd[%d]: Accepted password for alice from 192.0.2.7 port 22 ssh2\n" % (i, 100 + i)
    for i in range(40)
)


@pytest.fixture
def blob_root(settings: Any, tmp_path: Path) -> Path:
    """A file store of this test only (the shared test store holds every other test's files)."""
    settings.BLOB_ROOT = tmp_path / "blobs"
    return settings.BLOB_ROOT


def _installation_env(tmp: Path, database_url: str, *, key: Path | None = None) -> dict[str, str]:
    """The environment of a separate installation: its own var/, file store and journal."""
    return {
        **{name: value for name, value in os.environ.items() if name != "SECRET_KEY"},
        "DJANGO_SETTINGS_MODULE": "ismsapp.settings.base",
        "DATABASE_URL": database_url,
        "ISMS_VAR_DIR": str(tmp / "var"),
        "ISMS_BLOB_ROOT": str(tmp / "blobs"),
        "ISMS_EVIDENCE_CHECKPOINT_JOURNAL": str(tmp / "journal.jsonl"),
        "ISMS_EVIDENCE_SIGNING_KEY": str(key or settings.EVIDENCE_SIGNING_KEY),
        "CELERY_BROKER_URL": "memory://",
    }


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _ingest_signed_evidence(owner: Any, data: bytes = SYSLOG) -> None:
    source = evidence_services.ensure_source(actor=owner, name="web1", fmt="syslog", owner_username=owner.username)
    job = ingestion.create_job(actor=owner, source=source, fmt="syslog", stream=io.BytesIO(data), enqueue=False)
    for chunk_id in job.chunks.values_list("pk", flat=True):
        ingestion.process_chunk(chunk_id)
    source.refresh_from_db()
    ingestion.sign_checkpoint(source)
    assert Checkpoint.objects.filter(source=source).exists()


# --- PostgreSQL round trip -------------------------------------------------------------------------


def _pg_url(name: str) -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _row_counts(name: str) -> dict[str, int]:
    with psycopg.connect(_pg_url(name)) as conn:
        tables = [
            row[0]
            for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
        ]
        return {table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    name = f"test_restore_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(_pg_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_round_trip_into_a_new_postgresql_database_loses_nothing(
    blob_root: Path, tmp_path: Path, empty_pg_database: str, catalogue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = make_persona("isms_admin")
    make_persona("compliance_officer")
    _ingest_signed_evidence(admin)
    report_blob = blobs.store_bytes(b"%PDF-1.7 an uploaded report\n")
    journal_lines = Path(settings.EVIDENCE_CHECKPOINT_JOURNAL).read_bytes()
    assert journal_lines

    # The application keeps working during the backup: right after the database snapshot, another
    # batch is ingested and signed (its checkpoint journaled). The backup stays self-consistent.
    dump, source_counts = backup._dump_postgresql, {}

    def dump_while_ingesting(target: Path) -> None:
        dump(target)
        source_counts.update(_row_counts(connection.settings_dict["NAME"]))
        _ingest_signed_evidence(admin, SYSLOG.replace(b"10:00:", b"11:00:"))

    monkeypatch.setattr(backup, "_dump_postgresql", dump_while_ingesting)
    call_command("backup", "--out", str(tmp_path / "backup"), stdout=io.StringIO())
    assert Path(settings.EVIDENCE_CHECKPOINT_JOURNAL).read_bytes() != journal_lines
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["database"]["vendor"] == "postgresql"
    assert manifest["migrations"]["ismsapp"]
    assert manifest["contents"]["checkpoint_journal"]
    stored = sorted(path.relative_to(blob_root).as_posix() for path in blob_root.rglob("*") if path.is_file())
    assert sorted(e["path"] for e in manifest["files"] if e["path"].startswith("blobs/")) == [
        f"blobs/{name}" for name in stored
    ]

    target = tmp_path / "restored"
    env = _installation_env(target, _pg_url(empty_pg_database))
    restored = manage(env, "restore", str(tmp_path / "backup"))
    assert restored.returncode == 0, restored.stderr

    restored_counts = _row_counts(empty_pg_database)
    assert restored_counts == source_counts
    assert source_counts["ismsapp_auditentry"] > 0
    assert source_counts["evidence_event"] == 40
    assert (target / "blobs" / blobs.blob_path(report_blob).relative_to(blob_root)).read_bytes().startswith(b"%PDF")
    for verifier in ("verify_audit_trail", "verify_evidence"):
        result = manage(env, verifier)
        assert result.returncode == 0, f"{verifier}: {result.stdout}{result.stderr}"
        assert "intact" in result.stdout
    assert (target / "journal.jsonl").read_bytes() == journal_lines

    # the append-only triggers came back with the rows
    with psycopg.connect(_pg_url(empty_pg_database)) as conn, pytest.raises(psycopg.errors.RaiseException):
        conn.execute("DELETE FROM ismsapp_auditentry")

    # a second restore would mix two installations: refused, the database untouched
    before = _row_counts(empty_pg_database)
    again = manage(env, "restore", str(tmp_path / "backup"))
    assert again.returncode != 0
    assert "is not empty" in again.stderr
    assert "nothing restored" in again.stderr
    assert _row_counts(empty_pg_database) == before


# --- tampered backups, secrets -------------------------------------------------------------------


@pytest.fixture
def pg_backup(db: None, blob_root: Path, tmp_path: Path) -> Path:
    make_persona("isms_admin")
    blobs.store_bytes(b"an uploaded document\n")
    Path(settings.EVIDENCE_CHECKPOINT_JOURNAL).write_text('{"source":"1@x","seq":1}\n')
    backup.create_backup(tmp_path / "backup")
    return tmp_path / "backup"


def _first_blob(directory: Path) -> Path:
    return next(path for path in sorted((directory / "blobs").rglob("*")) if path.is_file())


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("tamper", "complaint"),
    [
        (lambda d: _flip_one_byte(_first_blob(d)), "altered (size or SHA-256 differs from the manifest): blobs/"),
        (lambda d: (d / "evidence" / "checkpoint-journal.jsonl").unlink(), "missing: evidence/checkpoint-journal"),
        (lambda d: (d / "blobs" / "extra.txt").write_text("slipped in"), "added): blobs/extra.txt"),
        (
            lambda d: _flip_one_byte(d / "database.dump"),
            "altered (size or SHA-256 differs from the manifest): database.dump",
        ),
    ],
    ids=["blob-byte-flipped", "file-removed", "file-added", "dump-byte-flipped"],
)
def test_a_tampered_backup_is_refused_before_anything_is_touched(pg_backup: Path, tamper: Any, complaint: str) -> None:
    tamper(pg_backup)
    with pytest.raises(CommandError) as refused:
        call_command("restore", str(pg_backup))
    assert "damaged or tampered with, nothing restored" in str(refused.value)
    assert complaint in str(refused.value)


@pytest.mark.postgresql
def test_an_intact_backup_is_refused_over_a_database_that_holds_data(pg_backup: Path) -> None:
    with pytest.raises(CommandError, match=r"is not empty .* restore needs an empty database"):
        call_command("restore", str(pg_backup))


@pytest.mark.postgresql
def test_the_private_key_and_secret_key_only_with_include_secrets(db: None, blob_root: Path, tmp_path: Path) -> None:
    private = integrity.key_path().read_bytes()
    plain = backup.create_backup(tmp_path / "plain").path
    with_secrets = backup.create_backup(tmp_path / "secrets", include_secrets=True).path

    assert plain.stat().st_mode & 0o077 == 0  # the dump holds password hashes and second-factor keys
    names = {path.relative_to(plain).as_posix() for path in plain.rglob("*") if path.is_file()}
    assert "keys/evidence-signing.pub.pem" in names
    assert not any(name.startswith("secrets/") for name in names)
    for path in plain.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert private not in content, path
            assert settings.SECRET_KEY.encode() not in content, path
    assert (with_secrets / "secrets" / "evidence-signing.pem").read_bytes() == private
    assert (with_secrets / "secrets" / "secret_key").read_text() == settings.SECRET_KEY
    assert (with_secrets / "secrets" / "evidence-signing.pem").stat().st_mode & 0o077 == 0
    assert json.loads((with_secrets / "manifest.json").read_text())["contents"]["secrets"] is True


@pytest.mark.postgresql
def test_a_restore_with_another_signing_key_installed_is_refused(
    pg_backup: Path, settings: Any, tmp_path: Path
) -> None:
    manifest = backup.read_manifest(pg_backup)
    backup._check_signing_key(pg_backup, manifest)  # the key that made the backup: fine
    settings.EVIDENCE_SIGNING_KEY = tmp_path / "other" / "evidence-signing.pem"
    integrity.create_key(settings.EVIDENCE_SIGNING_KEY)
    with pytest.raises(backup.BackupError, match="is not the one that signed this backup's checkpoints"):
        backup._check_signing_key(pg_backup, manifest)


# --- the nightly task ----------------------------------------------------------------------------


@pytest.mark.postgresql
def test_nightly_backup_is_off_by_default_and_keeps_the_newest(
    db: None, blob_root: Path, tmp_path: Path, settings: Any
) -> None:
    assert "ismsapp.tasks.nightly_backup" in {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    settings.ISMS_BACKUP_DIR = ""
    assert nightly_backup() == {"skipped": "ISMS_BACKUP_DIR is not set"}

    settings.ISMS_BACKUP_DIR, settings.ISMS_BACKUP_KEEP = str(tmp_path / "nightly"), 2
    stored = blobs.blob_path(blobs.store_bytes(b"an uploaded document\n"))
    made = [nightly_backup()["backup"] for _ in range(3)]
    # the same stored file is linked from the previous backup, not copied again
    copies = [Path(path) / "blobs" / stored.relative_to(blob_root) for path in made[1:]]
    assert copies[0].stat().st_ino == copies[1].stat().st_ino
    assert copies[0].stat().st_ino != stored.stat().st_ino
    (tmp_path / "nightly" / "unrelated").mkdir()
    assert [str(path) for path in backup.backups_in(tmp_path / "nightly")] == made[1:]
    assert not Path(made[0]).exists()
    assert (tmp_path / "nightly" / "unrelated").exists()


@pytest.mark.postgresql
def test_a_damaged_file_in_the_previous_backup_is_copied_afresh_not_linked(
    db: None, blob_root: Path, tmp_path: Path
) -> None:
    stored = blobs.blob_path(blobs.store_bytes(b"an uploaded document\n"))
    first, _ = backup.run_scheduled_backup(tmp_path / "nightly", keep=5)
    earlier = first.path / "blobs" / stored.relative_to(blob_root)
    _flip_one_byte(earlier)
    second, _ = backup.run_scheduled_backup(tmp_path / "nightly", keep=5)
    copy = second.path / "blobs" / stored.relative_to(blob_root)
    assert copy.read_bytes() == stored.read_bytes()
    assert copy.stat().st_ino != earlier.stat().st_ino
    call_command("restore", "--check", str(second.path), stdout=io.StringIO())
    with pytest.raises(CommandError, match="altered"):
        call_command("restore", "--check", str(first.path))


@pytest.mark.postgresql
def test_a_failed_backup_leaves_nothing_behind(db: None, blob_root: Path, tmp_path: Path, settings: Any) -> None:
    stored = blobs.blob_path(blobs.store_bytes(b"an uploaded document\n"))
    stored.write_bytes(b"bit rot")
    with pytest.raises(backup.BackupError, match="is damaged: its content no longer matches its name"):
        backup.create_backup(tmp_path / "out" / "backup")
    settings.BLOB_ROOT, settings.ISMS_PG_BIN_DIR = tmp_path / "empty-store", str(tmp_path / "no-tools")
    with pytest.raises(backup.BackupError, match="pg_dump not found in"):
        backup.create_backup(tmp_path / "out" / "backup")
    assert list((tmp_path / "out").iterdir()) == []
    (tmp_path / "out" / "taken").mkdir()
    (tmp_path / "out" / "taken" / "something").write_text("")
    with pytest.raises(CommandError, match="already exists and is not an empty directory"):
        call_command("backup", "--out", str(tmp_path / "out" / "taken"))


# --- SQLite, the embedded default ----------------------------------------------------------------

SQLITE_INSTALLATION = """
import io
from django.core.management import call_command
from evidence import ingestion, services as evidence
from ismsapp import services
call_command("migrate", verbosity=0)
call_command("create_signing_key")
admin = services.create_user(actor=None, username="admin", password="Correct-Horse-Battery-42")
source, _ = evidence.create_source(actor=admin, name="web1", owner=admin)
job = ingestion.create_job(actor=admin, source=source, fmt="syslog", stream=io.BytesIO(DATA), enqueue=False)
for chunk in job.chunks.values_list("pk", flat=True):
    ingestion.process_chunk(chunk)
source.refresh_from_db()
ingestion.sign_checkpoint(source)
"""
VERIFIERS = (  # each raises (exit 1) on a broken chain
    "from django.core.management import call_command; "
    "call_command('verify_audit_trail'); call_command('verify_evidence')"
)


def test_sqlite_backup_and_restore_with_secrets_into_a_new_installation(tmp_path: Path) -> None:
    """(Few processes: each start of Django costs seconds on a busy machine.)"""
    key = tmp_path / "keys" / "evidence-signing.pem"
    first = _installation_env(tmp_path / "first", f"sqlite:///{tmp_path / 'first.sqlite3'}", key=key)
    result = manage(first, "shell", "-c", f"DATA = {SYSLOG!r}\n{SQLITE_INSTALLATION}")
    assert result.returncode == 0, result.stderr
    result = manage(first, "backup", "--out", str(tmp_path / "backup"), "--include-secrets")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "backup" / "database.sqlite3").exists()

    new_key = tmp_path / "new-keys" / "evidence-signing.pem"  # an installation with no key yet
    second = _installation_env(tmp_path / "second", f"sqlite:///{tmp_path / 'second.sqlite3'}", key=new_key)
    result = manage(second, "restore", str(tmp_path / "backup"))
    assert result.returncode == 0, result.stderr
    assert new_key.read_bytes() == key.read_bytes()
    result = manage(second, "shell", "-c", VERIFIERS)
    assert result.returncode == 0, f"{result.stdout}{result.stderr}"
    assert "Audit trail intact" in result.stdout
    assert "web1: intact: 40 events" in result.stdout
    refused = manage(second, "restore", str(tmp_path / "backup"))
    assert refused.returncode != 0
    assert "is not empty" in refused.stderr


@pytest.mark.parametrize(
    "manifest",
    [
        "not json {",
        json.dumps({"format": "something else"}),
        json.dumps(
            {"format": "isms-backup", "version": 1, "database": {"vendor": "sqlite", "file": "../x"}, "files": []}
        ),
        json.dumps(
            {"format": "isms-backup", "version": 1, "database": {"vendor": "sqlite", "file": "database.sqlite3"}}
        ),
    ],
    ids=["not-json", "foreign", "database-outside", "no-file-list"],
)
def test_a_manifest_that_is_not_ours_or_points_outside_is_refused(tmp_path: Path, manifest: str) -> None:
    (tmp_path / "manifest.json").write_text(manifest)
    with pytest.raises(backup.BackupError):
        backup.read_manifest(tmp_path)


def test_a_directory_without_a_manifest_is_no_backup(tmp_path: Path) -> None:
    with pytest.raises(backup.BackupError, match=r"is not a backup: no manifest\.json"):
        backup.read_manifest(tmp_path)


def test_the_database_password_goes_to_pg_dump_in_its_environment_not_its_arguments() -> None:
    db = {"NAME": "isms", "USER": "isms", "PASSWORD": "s3cret", "HOST": "db.example", "PORT": 5433}
    env = backup._pg_env({**db, "OPTIONS": {"sslmode": "verify-full", "sslrootcert": "/etc/ca.pem"}})
    assert env["PGPASSWORD"] == "s3cret"
    assert (env["PGHOST"], env["PGPORT"], env["PGDATABASE"], env["PGUSER"]) == ("db.example", "5433", "isms", "isms")
    assert (env["PGSSLMODE"], env["PGSSLROOTCERT"]) == ("verify-full", "/etc/ca.pem")
