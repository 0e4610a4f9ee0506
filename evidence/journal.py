"""The checkpoint journal: every signed chain head, also appended to a file outside the database.

Signed checkpoints in the database prove that what they cover is untouched, but someone with
write access to the database can delete the newest batches together with their checkpoints and
leave an older, valid head. The journal is the anchor they cannot reach from the database: one
JSON line per checkpoint (source, when the source was created, batch number, link hash, signature,
key fingerprint), appended after the checkpoint is committed. ``verify_evidence`` reports a chain
that ends before, or differs from, what the journal recorded. Ship the file off the host (syslog,
write-once storage) to protect it from someone who also controls this machine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from evidence.models import Checkpoint, EvidenceSource


def journal_path() -> Path:
    return Path(settings.EVIDENCE_CHECKPOINT_JOURNAL)


def source_identity(source: EvidenceSource) -> str:
    """The source's name and creation time: a source created again under the same name (a new
    database) is another source, whose chain starts afresh."""
    return f"{source.name}@{source.created_at.isoformat(timespec='microseconds')}"


def append(source: EvidenceSource, checkpoint: Checkpoint) -> None:
    """One line, written with a single ``write`` in append mode (whole lines from concurrent workers)."""
    line = json.dumps(
        {
            "source": source_identity(source),
            "seq": checkpoint.seq,
            "link_hash": checkpoint.link_hash,
            "signature": checkpoint.signature,
            "key": checkpoint.key_fingerprint,
            "signed_at": checkpoint.signed_at.isoformat(),
        },
        separators=(",", ":"),
    )
    path = journal_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, (line + "\n").encode())
    finally:
        os.close(descriptor)


def recorded_heads(source: EvidenceSource) -> dict[int, str]:
    """``{batch number: link hash}`` the journal holds for the source (empty without a journal).
    Lines that are not journal entries (a torn last line) are skipped."""
    identity, heads = source_identity(source), {}
    try:
        handle = journal_path().open("rb")
    except FileNotFoundError:
        return {}
    with handle:
        for raw in handle:
            if identity.encode() not in raw:
                continue
            try:
                entry = json.loads(raw)
                if entry["source"] == identity:
                    heads[int(entry["seq"])] = str(entry["link_hash"])
            except (ValueError, KeyError, TypeError):
                continue
    return heads
