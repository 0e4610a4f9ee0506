"""Verify the hash chains and signed checkpoints of machine evidence; exit 1 at the first break."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from evidence.models import EvidenceSource
from evidence.verification import missing_journaled_sources, verify_source


class Command(BaseCommand):
    help = "Recompute every event hash, batch root and chain link, and check the checkpoint signatures."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--source", help="Only this source.")

    def handle(self, *args: Any, **options: Any) -> None:
        sources = EvidenceSource.objects.order_by("name")
        if options["source"]:
            sources = sources.filter(name=options["source"])
            if not sources.exists():
                raise CommandError(f"No source named {options['source']!r}.")
        failures = []
        for source in sources:
            result = verify_source(source)
            line = f"{source.name}: {result.detail}"
            if result.intact:
                self.stdout.write(self.style.SUCCESS(line))
            else:
                self.stderr.write(self.style.ERROR(line))
                failures.append(line)
        if not options["source"] and (missing := missing_journaled_sources()):
            line = (
                f"source id(s) {', '.join(map(str, missing))}: in the checkpoint journal outside the database, "
                "missing from the database (deleted)"
            )
            self.stderr.write(self.style.ERROR(line))
            failures.append(line)
        if failures:
            raise CommandError(f"Evidence integrity BROKEN in {len(failures)} source(s): {failures[0]}")
