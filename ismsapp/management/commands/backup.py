"""Back up the database, stored files, checkpoint journal and public key (see ismsapp/backup.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ismsapp import backup


class Command(BaseCommand):
    help = "Write a backup with a manifest of SHA-256 hashes into a new directory."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--out", required=True, type=Path, help="New (or empty) directory for the backup.")
        parser.add_argument(
            "--include-secrets",
            action="store_true",
            help="Also the private evidence signing key and SECRET_KEY (keep such a backup like the keys).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = backup.create_backup(options["out"], include_secrets=options["include_secrets"])
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        contents = summary.manifest["contents"]
        journal = "yes" if contents["checkpoint_journal"] else "none"
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup written to {summary.path}: {summary.manifest['database']['vendor']} database, "
                f"{contents['blobs']} stored files, checkpoint journal {journal}, "
                f"secrets {'included' if contents['secrets'] else 'not included'}."
            )
        )
        for note in summary.notes:
            self.stdout.write(note)
