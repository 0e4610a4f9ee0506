"""Backup and restore of an installation: the database, the stored files, the evidence checkpoint
journal and the evidence signing public key, with a manifest of SHA-256 hashes.

A backup is a directory::

    manifest.json                      what, when, migration state, database vendor, every file's hash
    database.dump | database.sqlite3   pg_dump (custom format) | SQLite online backup
    blobs/aa/bb/<sha256>               the content-addressed files (ismsapp/blobs.py)
    evidence/checkpoint-journal.jsonl  the checkpoint journal kept outside the database
    keys/evidence-signing.pub.pem      the public half of the evidence signing key
    secrets/...                        the private signing key and SECRET_KEY, only when asked for

Order of the copies, so the parts agree with each other: the journal first (a journal line is
written after its checkpoint commits, so every line copied refers to a checkpoint the database
snapshot taken next holds), then the database (one consistent snapshot), then the files (written
before the rows that name them commit, so every file the snapshot names is there).

``restore`` checks every hash before touching anything and restores only into an empty
installation: a database without tables and no checkpoint journal yet.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from evidence import integrity, journal

FORMAT = "isms-backup"
VERSION = 1
MANIFEST = "manifest.json"
PG_DUMP_FILE = "database.dump"
SQLITE_FILE = "database.sqlite3"
BLOBS = "blobs"
JOURNAL_FILE = "evidence/checkpoint-journal.jsonl"
PUBLIC_KEY_FILE = "keys/evidence-signing.pub.pem"
PRIVATE_KEY_FILE = "secrets/evidence-signing.pem"
SECRET_KEY_FILE = "secrets/secret_key"  # noqa: S105 (a file name)
BACKUP_PREFIX = "isms-backup-"
CHUNK = 1024 * 1024
PARTIAL_AGE_SECONDS = 24 * 3600


class BackupError(Exception):
    """A backup that cannot be taken, or restored; the message says why and what to do."""


@dataclass
class Summary:
    path: Path
    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)


# --- files and hashes ------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _files_under(root: Path) -> Iterator[str]:
    """Relative paths (POSIX) of the regular files under ``root``; anything else is refused."""
    for directory, subdirs, names in os.walk(root):
        for name in sorted(subdirs + names):
            path = Path(directory) / name
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                raise BackupError(f"{path}: not a regular file or directory (links are refused)")
        for name in sorted(names):
            yield (Path(directory) / name).relative_to(root).as_posix()


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


# --- database ------------------------------------------------------------------------------------


def _vendor() -> str:
    return connection.vendor


def _pg_tool(name: str) -> str:
    bin_dir = settings.ISMS_PG_BIN_DIR or None
    tool = shutil.which(name, path=bin_dir)
    if tool is None:
        raise BackupError(
            f"{name} not found{f' in {bin_dir}' if bin_dir else ''}: install the PostgreSQL client tools "
            "of the server's major version (or newer), or set ISMS_PG_BIN_DIR."
        )
    return tool


# connection options Django passes to libpq, and the environment variables libpq reads them from
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}


def _pg_env(db: dict[str, Any] | None = None) -> dict[str, str]:
    """libpq's environment for the database (default: the app's; the password never on a command
    line); what the settings leave out comes from the environment, as for the application itself."""
    db = db if db is not None else connection.settings_dict
    values = {"PGHOST": db.get("HOST"), "PGPORT": db.get("PORT"), "PGUSER": db.get("USER")}
    values |= {"PGPASSWORD": db.get("PASSWORD"), "PGDATABASE": db.get("NAME")}
    options = db.get("OPTIONS") or {}
    values |= {variable: options.get(option) for option, variable in _LIBPQ_OPTIONS.items()}
    return {**os.environ, **{key: str(value) for key, value in values.items() if value not in (None, "")}}


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, env=_pg_env(), capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        hint = ""
        if "version mismatch" in result.stderr or "unsupported version" in result.stderr:
            hint = " Install the PostgreSQL client tools of the server's major version, or set ISMS_PG_BIN_DIR."
        raise BackupError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}{hint}")


def _dump_postgresql(target: Path) -> None:
    _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"], "pg_dump")


def _sqlite_path() -> Path:
    return Path(connection.settings_dict["NAME"])


def _dump_sqlite(target: Path) -> None:
    source = sqlite3.connect(_sqlite_path())
    copy = sqlite3.connect(target)
    try:
        with copy:
            source.backup(copy)  # the online backup API: one consistent copy while others write
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        copy.close()
        source.close()


def _server_version() -> str:
    if _vendor() == "postgresql":
        return ".".join(map(str, divmod(connection.pg_version, 10000)))  # 150020 -> 15.20
    return f"SQLite {sqlite3.sqlite_version}"


def migration_state() -> dict[str, list[str]]:
    state: dict[str, list[str]] = {}
    for app, name in sorted(MigrationRecorder(connection).applied_migrations()):
        state.setdefault(app, []).append(name)
    return state


def _database_tables() -> list[str]:
    return sorted(connection.introspection.table_names())


# --- backup --------------------------------------------------------------------------------------


def _public_key_pem() -> bytes | None:
    """The public half: from the private key when there is one, else the ``.pub.pem`` beside it."""
    path = integrity.key_path()
    if path.exists():
        return integrity.public_key_pem()
    public = path.with_suffix(".pub.pem")
    return public.read_bytes() if public.exists() else None


def _secret_key() -> str:
    return str(settings.SECRET_KEY)


def create_backup(out: Path, *, include_secrets: bool = False, link_from: Path | None = None) -> Summary:
    """Write a backup into the new directory ``out`` (built beside it, renamed when complete).

    ``link_from``: an earlier backup whose stored files, when intact, are hard-linked instead of
    copied (they are content-addressed: the same name is the same content)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} already exists and is not an empty directory: choose a new one.")
    vendor = _vendor()
    if vendor not in ("postgresql", "sqlite"):
        raise BackupError(f"cannot back up a {vendor} database (PostgreSQL and SQLite only).")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        started, migrations = datetime.now(UTC), migration_state()
        hashes: dict[str, str] = {}
        contents = _write_parts(work, vendor, include_secrets, link_from, hashes)
        files = [
            {"path": name, "size": (work / name).stat().st_size, "sha256": hashes.get(name) or _sha256(work / name)}
            for name in sorted(_files_under(work))
        ]
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": started.isoformat(timespec="seconds"),
            "database": {"vendor": vendor, "file": contents.pop("database_file"), "server": _server_version()},
            "migrations": migrations,
            "contents": contents,
            "files": files,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        if out.exists():
            out.rmdir()
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    notes = [f"manifest SHA-256 {_sha256(out / MANIFEST)} (keep it apart from the backup to detect a rewritten one)"]
    return Summary(out, manifest, notes)


def _write_parts(
    work: Path, vendor: str, include_secrets: bool, link_from: Path | None, hashes: dict[str, str]
) -> dict[str, Any]:
    contents: dict[str, Any] = {}
    journal_source = journal.journal_path()
    contents["checkpoint_journal"] = journal_source.exists()
    if journal_source.exists():
        _copy(journal_source, work / JOURNAL_FILE)
    if vendor == "postgresql":
        contents["database_file"] = PG_DUMP_FILE
        _dump_postgresql(work / PG_DUMP_FILE)
    else:
        contents["database_file"] = SQLITE_FILE
        _dump_sqlite(work / SQLITE_FILE)
    blob_root = Path(settings.BLOB_ROOT)
    count = 0
    if blob_root.is_dir():
        for name in _files_under(blob_root):
            if Path(name).name.startswith(".incoming-"):  # an upload being written: not referenced yet
                continue
            relative = f"{BLOBS}/{name}"
            hashes[relative] = _back_up_blob(
                blob_root / name, work / relative, link_from / relative if link_from else None
            )
            count += 1
    contents["blobs"] = count
    public = _public_key_pem()
    contents["evidence_public_key"] = _fingerprint(public) if public else None
    if public:
        (work / PUBLIC_KEY_FILE).parent.mkdir(parents=True, exist_ok=True)
        (work / PUBLIC_KEY_FILE).write_bytes(public)
    contents["secrets"] = include_secrets
    if include_secrets:
        (work / "secrets").mkdir(mode=0o700)
        if integrity.key_path().exists():
            _copy(integrity.key_path(), work / PRIVATE_KEY_FILE)
            (work / PRIVATE_KEY_FILE).chmod(0o600)
        (work / SECRET_KEY_FILE).write_text(_secret_key())
        (work / SECRET_KEY_FILE).chmod(0o600)
    return contents


def _back_up_blob(stored: Path, target: Path, earlier: Path | None) -> str:
    """Copy one stored file, or link the same file of an earlier backup when it is intact; the
    content of a file named by its hash (all of them, ``blobs.blob_path``) is checked against its
    name. Returns its SHA-256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    named_by_hash = stored.parent.parent.name + stored.parent.name == stored.name[:4] and _is_sha256(stored.name)
    reusable = earlier is not None and earlier.is_file() and not earlier.is_symlink()
    if named_by_hash and reusable and _sha256(earlier) == stored.name:  # type: ignore[arg-type]
        try:
            os.link(earlier, target)  # type: ignore[arg-type]
            return stored.name
        except OSError:  # another file system, or no hard links there
            pass
    shutil.copyfile(stored, target)
    digest = _sha256(target)
    if named_by_hash and digest != stored.name:
        raise BackupError(
            f"the stored file {stored} is damaged: its content no longer matches its name (SHA-256); "
            "restore it from an earlier backup"
        )
    return digest


def _is_sha256(name: str) -> bool:
    return len(name) == 64 and all(char in "0123456789abcdef" for char in name)


def _fingerprint(public_pem: bytes) -> str:
    from cryptography.hazmat.primitives import serialization

    return integrity.fingerprint(serialization.load_pem_public_key(public_pem))  # type: ignore[arg-type]


# --- checking a backup ---------------------------------------------------------------------------


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest, after checking that the directory holds exactly its files, each unaltered."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError as exc:
        raise BackupError(f"{directory} is not a backup: no {MANIFEST}.") from exc
    except ValueError as exc:
        raise BackupError(f"{directory / MANIFEST} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{directory / MANIFEST} is not an ISMS backup manifest.")
    if manifest.get("version") != VERSION:
        raise BackupError(f"backup format version {manifest.get('version')!r}; this code reads version {VERSION}.")
    try:
        listed = {entry["path"]: entry for entry in manifest["files"]}
    except (KeyError, TypeError) as exc:
        raise BackupError(f"{directory / MANIFEST}: the file list is malformed.") from exc
    present = set(_files_under(directory)) - {MANIFEST}
    problems = [f"missing: {name}" for name in sorted(set(listed) - present)]
    problems += [f"not in the manifest (added): {name}" for name in sorted(present - set(listed))]
    for name in sorted(present & set(listed)):
        path, entry = directory / name, listed[name]
        if path.stat().st_size != entry.get("size") or _sha256(path) != entry.get("sha256"):
            problems.append(f"altered (size or SHA-256 differs from the manifest): {name}")
    database = manifest.get("database")
    expected = {"postgresql": PG_DUMP_FILE, "sqlite": SQLITE_FILE}
    if not isinstance(database, dict) or expected.get(database.get("vendor")) != database.get("file"):
        problems.append("the manifest names no database of a known kind")
    elif database["file"] not in listed:
        problems.append(f"missing: {database['file']}")
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise BackupError(f"backup {directory} is damaged or tampered with, nothing restored: {shown}")
    return manifest


# --- restore -------------------------------------------------------------------------------------


def _check_empty_installation(manifest: dict[str, Any]) -> None:
    vendor = manifest["database"]["vendor"]
    if vendor != _vendor():
        raise BackupError(f"the backup holds a {vendor} database; this installation uses {_vendor()}.")
    tables = _database_tables()
    if tables:
        name = connection.settings_dict["NAME"]
        raise BackupError(
            f"the database {name} is not empty ({len(tables)} tables, e.g. {tables[0]}): restore needs an empty "
            "database (create a new one and do not run migrate first); nothing restored."
        )
    target = journal.journal_path()
    if target.exists() and target.stat().st_size:
        raise BackupError(f"the checkpoint journal {target} already has entries: restore needs a new installation.")
    known = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    unknown = [
        f"{app}.{name}"
        for app, names in manifest.get("migrations", {}).items()
        for name in names
        if (app, name) not in known
    ]
    if unknown:
        raise BackupError(
            "the backup was taken by a newer version of the application "
            f"(unknown migrations: {', '.join(unknown[:5])})."
        )


def _check_signing_key(directory: Path, manifest: dict[str, Any]) -> None:
    """The installed signing key must be the one that signed the backup's checkpoints."""
    expected = manifest["contents"].get("evidence_public_key")
    if not expected:
        return
    installed = _public_key_pem()
    if installed is None and (directory / PRIVATE_KEY_FILE).exists():
        return
    if installed is not None and _fingerprint(installed) != expected:
        raise BackupError(
            f"the evidence signing key at {integrity.key_path()} (fingerprint {_fingerprint(installed)[:16]}...) is "
            f"not the one that signed this backup's checkpoints ({expected[:16]}...): install the original key."
        )


def restore_backup(directory: Path) -> Summary:
    """Check the backup whole, then the installation empty; then restore, the files first (harmless
    extras should the database restore fail: content-addressed), the database in one transaction,
    the journal last (an installation with a journal is not empty: a failed run can be re-run)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    _check_empty_installation(manifest)
    _check_signing_key(directory, manifest)
    blobs = directory / BLOBS
    if blobs.is_dir():
        root = Path(settings.BLOB_ROOT)
        for name in _files_under(blobs):
            if not (root / name).exists():
                _copy_atomically(blobs / name, root / name)
    notes = _restore_keys(directory)
    database_file = directory / manifest["database"]["file"]
    if manifest["database"]["vendor"] == "postgresql":
        _restore_postgresql(database_file)
    else:
        _restore_sqlite(database_file)
    if (directory / JOURNAL_FILE).exists():
        _copy_atomically(directory / JOURNAL_FILE, journal.journal_path())
        journal.journal_path().chmod(0o600)
    return Summary(directory, manifest, notes)


def _copy_atomically(source: Path, target: Path) -> None:
    """Never a half-written file under its final name (a blob's name is its hash)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    os.close(handle)
    try:
        shutil.copyfile(source, name)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _restore_postgresql(dump: Path) -> None:
    connection.close()
    _run(
        [
            _pg_tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={connection.settings_dict['NAME']}",
            str(dump),
        ],
        "pg_restore",
    )


def _restore_sqlite(copy: Path) -> None:
    connection.close()
    target = _sqlite_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    destination = sqlite3.connect(target)
    try:
        with destination:
            source.backup(destination)
    finally:
        destination.close()
        source.close()


def _restore_keys(directory: Path) -> list[str]:
    notes = []
    key = integrity.key_path()
    public = directory / PUBLIC_KEY_FILE
    if (directory / PRIVATE_KEY_FILE).exists() and not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.touch(mode=0o600)
        key.write_bytes((directory / PRIVATE_KEY_FILE).read_bytes())
        integrity._private_key.cache_clear()
        notes.append(f"evidence signing key restored to {key}")
    if public.exists() and not key.with_suffix(".pub.pem").exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        _copy(public, key.with_suffix(".pub.pem"))
    if public.exists() and not key.exists():
        notes.append(
            f"no private evidence signing key at {key}: install it from your secret store before "
            "verify_evidence and new checkpoints (the backup holds only the public key)"
        )
    if (directory / SECRET_KEY_FILE).exists():
        secret = (directory / SECRET_KEY_FILE).read_text()
        if os.environ.get("SECRET_KEY"):
            if secret != os.environ["SECRET_KEY"]:
                notes.append("the backup's SECRET_KEY differs from the SECRET_KEY variable: set the variable to it")
        else:
            path = Path(settings.VAR_DIR) / "secret_key"
            path.write_text(secret)
            path.chmod(0o600)
            notes.append(f"SECRET_KEY restored to {path}")
    return notes


# --- scheduled backups with retention ------------------------------------------------------------


def backups_in(root: Path) -> list[Path]:
    """The complete backups in ``root``, oldest first (names carry their UTC time)."""
    if not root.is_dir():
        return []
    return sorted(
        path
        for path in root.iterdir()
        if path.name.startswith(BACKUP_PREFIX) and path.is_dir() and (path / MANIFEST).is_file()
    )


def run_scheduled_backup(root: Path, *, keep: int, include_secrets: bool = False) -> tuple[Summary, list[Path]]:
    """A new backup in ``root``, then every backup but the ``keep`` newest deleted."""
    if keep < 1:
        raise BackupError(f"ISMS_BACKUP_KEEP must be at least 1, not {keep}.")
    for partial in root.glob(f".{BACKUP_PREFIX}*.partial-*") if root.is_dir() else []:
        if time.time() - partial.stat().st_mtime > PARTIAL_AGE_SECONDS:  # left by a killed run
            shutil.rmtree(partial, ignore_errors=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    earlier = backups_in(root)
    summary = create_backup(
        root / f"{BACKUP_PREFIX}{stamp}",
        include_secrets=include_secrets,
        link_from=earlier[-1] if earlier else None,
    )
    removed = backups_in(root)[:-keep]
    for old in removed:
        shutil.rmtree(old)
    return summary, removed
