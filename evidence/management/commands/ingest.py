"""Ingest log or session files for a source and print a JSON summary."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from evidence import ingestion, services
from evidence.formats import FORMATS
from evidence.models import IngestionJob
from ismsapp.audit import audit_context


class Command(BaseCommand):
    help = (
        "Ingest files into a source (created on first use). Chunks are processed here, one "
        "transaction each, unless --queue hands them to the Celery workers."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--source", required=True, help="Source name (created if missing).")
        parser.add_argument("--format", required=True, choices=sorted(FORMATS), dest="fmt")
        parser.add_argument("--owner", default="", help="Username owning a new source (default: first admin).")
        parser.add_argument("--queue", action="store_true", help="Queue the chunks for Celery workers and return.")
        parser.add_argument("paths", nargs="+", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        missing = [str(p) for p in options["paths"] if not p.is_file()]
        if missing:
            raise CommandError(f"Not a file: {', '.join(missing)}")
        summaries = []
        with audit_context(label="command:ingest"):
            try:
                source = services.ensure_source(
                    actor=None, name=options["source"], fmt=options["fmt"], owner_username=options["owner"]
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            for path in options["paths"]:
                try:
                    with path.open("rb") as stream:
                        job = ingestion.create_job(
                            actor=None,
                            source=source,
                            fmt=options["fmt"],
                            stream=stream,
                            filename=path.name,
                            receiver=IngestionJob.Receiver.COMMAND,
                            enqueue=options["queue"],
                            written_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
                        )
                except ValueError as exc:  # too large, or damaged gzip: nothing of this file stored
                    raise CommandError(f"{path}: {exc}") from exc
                if not options["queue"]:
                    for chunk_id in job.chunks.order_by("index").values_list("pk", flat=True):
                        ingestion.process_chunk(chunk_id)
                job.refresh_from_db()
                summaries.append(ingestion.job_summary(job))
        self.stdout.write(json.dumps(summaries[0] if len(summaries) == 1 else summaries, indent=2))
