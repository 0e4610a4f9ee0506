"""Restore a backup into an empty installation (see ismsapp/backup.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ismsapp import backup


class Command(BaseCommand):
    help = "Check every hash of a backup, then restore it into an empty database and file store."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("directory", type=Path, help="A directory written by `manage.py backup`.")
        parser.add_argument(
            "--check", action="store_true", help="Only check the backup against its manifest; restore nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"]:
            try:
                manifest = backup.read_manifest(options["directory"])
            except backup.BackupError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                self.style.SUCCESS(
                    f"Backup {options['directory']} (taken {manifest['created_at']}) is complete: "
                    f"{len(manifest['files'])} files match the manifest."
                )
            )
            return
        try:
            summary = backup.restore_backup(options["directory"])
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {summary.path} (taken {summary.manifest['created_at']}): "
                f"{len(summary.manifest['files'])} files checked. "
                "Run `python manage.py verify_audit_trail` and `python manage.py verify_evidence`."
            )
        )
        for note in summary.notes:
            self.stdout.write(note)
