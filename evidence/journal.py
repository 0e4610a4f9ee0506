"""The checkpoint journal: every signed chain head, also appended to a file outside the database.

Signed checkpoints in the database prove that what they cover is untouched, but someone with
write access to the database can delete the newest batches together with their checkpoints and
leave an older, valid head. The journal is the anchor they cannot reach from the database: one
JSON line per checkpoint (source id and creation time, name, batch number, link hash, signature,
key fingerprint), appended after the checkpoint is committed. ``verify_evidence`` reports a chain
that ends before, or differs from, what the journal recorded, a source whose record no longer
matches the journal's, and a journaled source missing from the database. Ship the file off the host (syslog,
write-once storage) to protect it from someone who also controls this machine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from evidence.models import Checkpoint, EvidenceSource


def journal_path() -> Path:
    return Path(settings.EVIDENCE_CHECKPOINT_JOURNAL)


def source_identity(source: EvidenceSource) -> str:
    """The source's id and creation time. Entries of the same id under another creation time mean
    the source record was altered (or the database replaced): verification reports it."""
    return f"{source.pk}@{source.created_at.isoformat(timespec='microseconds')}"


def append(source: EvidenceSource, checkpoint: Checkpoint) -> None:
    """One line, written with a single ``write`` in append mode (whole lines from concurrent workers)."""
    line = json.dumps(
        {
            "source": source_identity(source),
            "name": source.name,
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


@dataclass
class JournalRecord:
    """What the journal holds for one source id."""

    heads: dict[int, str] = field(default_factory=dict)  # batch number -> link hash
    other_identities: set[str] = field(default_factory=set)  # the same id, another creation time


def _entries() -> Iterator[dict[str, Any]]:
    """The journal's entries (none without a journal); a torn or foreign line is skipped."""
    try:
        handle = journal_path().open("rb")
    except FileNotFoundError:
        return
    with handle:
        for raw in handle:
            try:
                entry = json.loads(raw)
                identity, seq, link_hash = str(entry["source"]), int(entry["seq"]), str(entry["link_hash"])
            except (ValueError, KeyError, TypeError):
                continue
            yield {"source": identity, "seq": seq, "link_hash": link_hash}


def record_of(source: EvidenceSource) -> JournalRecord:
    identity, record = source_identity(source), JournalRecord()
    prefix = f"{source.pk}@"
    for entry in _entries():
        if entry["source"] == identity:
            record.heads[entry["seq"]] = entry["link_hash"]
        elif entry["source"].startswith(prefix):
            record.other_identities.add(entry["source"])
    return record


def journaled_source_ids() -> set[int]:
    """The ids of every source the journal has checkpoints of."""
    ids = set()
    for entry in _entries():
        head, _, _ = entry["source"].partition("@")
        if head.isdigit():
            ids.add(int(head))
    return ids
