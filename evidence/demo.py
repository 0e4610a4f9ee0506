"""Demo evidence (idempotent): a bastion host's auth.log of the last three days and one recorded
administrator session, ingested through the same pipeline as real files and checkpointed."""

from __future__ import annotations

import io
from datetime import timedelta

from django.utils import timezone

from evidence import ingestion, services, synthetic
from evidence.models import EvidenceSource, IngestionJob
from ismsapp.models import User

AUTH_SOURCE, SESSION_SOURCE = "bastion-auth", "bastion-sessions"
SUPPLIER = "vendor-acme"
SESSION_COMMANDS = (
    ("sudo systemctl restart nginx", ""),
    ("sudo tail -n 2 /var/log/nginx/error.log", "2026/11/21 09:12:01 [notice] 811#811: signal process started"),
    ("sudo useradd -m -s /bin/bash intern01", ""),
    ("exit", "logout"),
)


def _ingest(source: EvidenceSource, fmt: str, content: bytes, filename: str) -> IngestionJob:
    job = ingestion.create_job(
        actor=None,
        source=source,
        fmt=fmt,
        stream=io.BytesIO(content),
        filename=filename,
        receiver=IngestionJob.Receiver.COMMAND,
        enqueue=False,
    )
    for chunk_id in job.chunks.order_by("index").values_list("pk", flat=True):
        ingestion.process_chunk(chunk_id)
    job.refresh_from_db()
    return job


def load_demo_evidence(owner: User) -> str:
    if EvidenceSource.objects.filter(name__in=[AUTH_SOURCE, SESSION_SOURCE]).exists():
        return "demo evidence already present"
    now = timezone.now().replace(microsecond=0)
    start = now - timedelta(days=3)
    auth, _ = services.create_source(
        actor=None,
        name=AUTH_SOURCE,
        kind=EvidenceSource.Kind.LINUX_HOST,
        default_format="syslog",
        hosts="bastion",
        owner=owner,
        cadence_minutes=24 * 60,
        supplier_accounts=SUPPLIER,
    )
    step = timedelta(seconds=86)  # 3,000 lines over three days
    lines = list(
        synthetic.auth_log_lines(3000, start=start, step=step, users=(*synthetic.USERS, SUPPLIER), hosts=("bastion",))
    )
    stamp = now - timedelta(hours=5)
    prefix = f"{stamp:%b} {stamp.day:2d} {stamp:%H:%M:%S} bastion"
    at = (stamp - start) // step
    lines[at:at] = [  # spliced in at their time
        f"{prefix} chronyd[640]: System clock wrong by -2.415012 seconds\n",
        f"{prefix} systemd-journald[301]: Journal stopped\n",
        "--- truncated by logrotate ---\n",  # no syslog header: kept as a rejected record
    ]
    auth_job = _ingest(auth, "syslog", "".join(lines).encode(), "auth.log")
    sessions, _ = services.create_source(
        actor=None,
        name=SESSION_SOURCE,
        kind=EvidenceSource.Kind.BASTION,
        default_format="asciicast",
        hosts="bastion",
        owner=owner,
        cadence_minutes=7 * 24 * 60,
    )
    recording = synthetic.asciicast_session(
        user="admin", host="bastion", started_at=now - timedelta(hours=2), commands=SESSION_COMMANDS
    )
    _ingest(sessions, "asciicast", recording, "admin-session.cast")
    return f"{ingestion.job_summary(auth_job)['events_stored']} demo events and 1 recorded session ingested"
