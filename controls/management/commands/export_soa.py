"""Export the SoA of one edition (working draft or a published version) as PDF, XLSX or CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from controls.reports import soa_csv, soa_pdf, soa_view_for, soa_xlsx


class Command(BaseCommand):
    help = "Write the Statement of Applicability to FILE as pdf, xlsx or csv."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        # Our --version (the SoA version) replaces Django's --version (the framework's).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--edition", required=True, choices=["2013", "2022"])
        parser.add_argument("--format", required=True, choices=["pdf", "xlsx", "csv"], dest="fmt")
        parser.add_argument("--out", required=True, type=Path, help="File to write.")
        parser.add_argument(
            "--version", type=int, dest="soa_version", help="Published version number (default: draft)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            view = soa_view_for(options["edition"], options["soa_version"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        builders = {"pdf": soa_pdf, "csv": soa_csv, "xlsx": lambda v: soa_xlsx(options["edition"], v)}
        content = builders[options["fmt"]](view)
        out: Path = options["out"]
        if not out.parent.exists():
            raise CommandError(f"Directory {out.parent} does not exist.")
        out.write_bytes(content)
        self.stdout.write(
            self.style.SUCCESS(
                f"{view.label} of the {view.edition} SoA written to {out} "
                f"({len(content)} bytes, {len(view.rows)} controls)."
            )
        )
