"""Load the ISO/IEC 27001 catalogue (both editions, mapping, clauses) and create missing SoA rows."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from controls.catalogue import load_catalogue
from ismsapp.audit import audit_context


class Command(BaseCommand):
    help = "Load or correct the ISO/IEC 27001:2013 and :2022 catalogue from controls/data (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        with audit_context(label="command:load_catalogue"):
            counts = load_catalogue()
        self.stdout.write(
            self.style.SUCCESS(
                f"Catalogue: {counts.controls} controls, {counts.groups} groups, {counts.mappings} mapping pairs, "
                f"{counts.clauses} clauses; {counts.soa_entries_created} SoA rows and "
                f"{counts.clause_entries_created} clause rows created."
            )
        )
