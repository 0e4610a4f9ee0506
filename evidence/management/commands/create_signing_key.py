"""Create the Ed25519 key that signs evidence checkpoints (development; idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from evidence import integrity


class Command(BaseCommand):
    help = "Create the evidence signing key at ISMS_EVIDENCE_SIGNING_KEY if it does not exist."

    def handle(self, *args: Any, **options: Any) -> None:
        path = integrity.key_path()
        created = integrity.create_key(path)
        verb = "Created" if created else "Using existing"
        self.stdout.write(
            f"{verb} evidence signing key {path} (public key fingerprint "
            f"{integrity.fingerprint()}; public key in {path.with_suffix('.pub.pem')})."
        )
