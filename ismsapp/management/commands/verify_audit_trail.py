"""Verify the application's audit trail hash chain; exit 1 naming the first bad entry."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ismsapp import services
from ismsapp.audit import audit_context


class Command(BaseCommand):
    help = "Re-compute the audit trail's hash chain from the first entry. Exit 0 if intact, 1 otherwise."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-record", action="store_true", help="Do not store the result in the database.")

    def handle(self, *args: Any, **options: Any) -> None:
        with audit_context(label="command:verify_audit_trail"):
            if options["no_record"]:
                from ismsapp.audit import verify_chain

                result = verify_chain()
            else:
                result, _ = services.verify_audit_trail()
        if not result.intact:
            raise CommandError(f"Audit trail BROKEN at entry #{result.first_bad_seq}: {result.detail}")
        self.stdout.write(self.style.SUCCESS(f"Audit trail intact: {result.entries_checked} entries verified."))
