"""Receive syslog over TCP and/or UDP into ingestion jobs until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from evidence import services, syslog_server


class Command(BaseCommand):
    help = (
        "Listen for syslog (RFC 5424 and RFC 3164; TCP with RFC 6587 octet counting or LF framing, and "
        "UDP) and store it as ingestion jobs of a source. SIGTERM flushes what was accepted, then exits."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tcp", help="HOST:PORT to listen on (TCP).")
        parser.add_argument("--udp", help="HOST:PORT to listen on (UDP).")
        parser.add_argument("--source", default="syslog", help="Source receiving the messages (created if needed).")
        parser.add_argument("--owner", default="", help="Username owning a new source (default: first ISMS admin).")
        parser.add_argument(
            "--flush-seconds", type=float, default=2.0, help="Store the received messages at least this often."
        )
        parser.add_argument(
            "--flush-bytes", type=int, default=4 * 1024 * 1024, help="Store a batch once it reaches this size."
        )
        parser.add_argument(
            "--max-buffer",
            type=int,
            default=64 * 1024 * 1024,
            help="Bytes accepted but not yet stored above which TCP reading pauses (back-pressure) and UDP "
            "messages are dropped (counted in the exit statistics).",
        )
        parser.add_argument(
            "--max-connections",
            type=int,
            default=512,
            help="TCP connections open at once; a new one beyond takes the place of one idle for "
            "--evict-idle-seconds, or is closed at once (both counted in the exit statistics).",
        )
        parser.add_argument("--evict-idle-seconds", type=float, default=60.0, help="See --max-connections.")
        parser.add_argument(
            "--drain-seconds",
            type=float,
            default=60.0,
            help="On SIGTERM, how long to keep trying to store what was accepted before exiting with an error.",
        )
        parser.add_argument(
            "--udp-receive-buffer",
            type=int,
            default=syslog_server.UDP_RECEIVE_BUFFER,
            help="Kernel receive buffer of the UDP socket in bytes (sized for bursts); what the kernel still "
            "drops is counted, logged and shown on the source.",
        )
        parser.add_argument(
            "--inline",
            action="store_true",
            help="Parse the jobs in this process instead of queueing them for Celery workers.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["tcp"] and not options["udp"]:
            raise CommandError("Give --tcp HOST:PORT and/or --udp HOST:PORT.")
        try:
            source = services.ensure_source(
                actor=None, name=options["source"], fmt="syslog", owner_username=options["owner"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        flush = syslog_server.job_writer(source, enqueue=not options["inline"])

        def ready(bound: dict[str, Any]) -> None:
            self.stdout.write(
                json.dumps({"listening": {k: list(v) for k, v in bound.items()}, "source": source.name}), ending="\n"
            )
            self.stdout.flush()

        stats = asyncio.run(
            syslog_server.serve(
                flush,
                tcp=options["tcp"],
                udp=options["udp"],
                flush_bytes=options["flush_bytes"],
                flush_seconds=options["flush_seconds"],
                max_buffer=options["max_buffer"],
                drain_seconds=options["drain_seconds"],
                limit=syslog_server.ConnectionLimit(options["max_connections"], options["evict_idle_seconds"]),
                ready=ready,
                udp_receive_buffer=options["udp_receive_buffer"],
                on_loss=syslog_server.loss_recorder(source),
            )
        )
        self.stdout.write(syslog_server.stats_json(stats))
        if stats.lost_at_exit:
            raise CommandError(f"{stats.lost_at_exit} accepted messages could not be stored before exiting.")
