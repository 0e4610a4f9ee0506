"""Re-verify a source's evidence from the stored events up: leaves, batch roots, chain, signatures."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, Sum

from evidence import integrity, journal, rules
from evidence.counting import occurrences_expression
from evidence.models import ChainLink, Checkpoint, ControlEventCount, Event, EvidenceSource, IngestionChunk
from evidence.models.sources import GENESIS
from ismsapp.snapshots import consistent_snapshot

HASHED = integrity.CANONICAL_FIELDS  # read back from the table and re-hashed


@dataclass(frozen=True)
class SourceVerification:
    intact: bool
    events_checked: int
    batches_checked: int
    detail: str
    first_bad: str = ""  # "batch <seq>, position <n> (event id <id>)"


def _broken(events: int, batches: int, where: str, why: str) -> SourceVerification:
    return SourceVerification(False, events, batches, f"{where}: {why}", where)


def verify_source(source: EvidenceSource) -> SourceVerification:
    """Walk the chain in order. Any altered, deleted, inserted or reordered event, batch or link,
    and any checkpoint whose signature does not match, is reported with its position.

    The database is read in one consistent snapshot, and the journal outside it before: chunks
    committed meanwhile are not seen half (a head ahead of its links), and every journaled head was
    committed before the snapshot began (journal lines are written after their commit)."""
    journaled = journal.record_of(EvidenceSource.objects.get(pk=source.pk))  # as the database knows it
    with consistent_snapshot():
        return _walk_source(EvidenceSource.objects.get(pk=source.pk), journaled)


def _walk_source(source: EvidenceSource, journaled: journal.JournalRecord) -> SourceVerification:
    prev, events, batches = GENESIS, 0, 0
    expected_seq = 1
    for link in ChainLink.objects.filter(source=source).order_by("seq").iterator(chunk_size=200):
        where = f"batch {link.seq}"
        if link.seq != expected_seq:
            return _broken(events, batches, f"batch {expected_seq}", "missing from the chain (deleted or renumbered)")
        if link.prev_hash != prev:
            return _broken(events, batches, where, "does not link to the previous batch")
        leaves = []
        last_position = -1
        for event in (
            Event.objects.filter(chunk_id=link.chunk_id)
            .order_by("position")
            .values("id", "position", "leaf_hash", "source_id", *HASHED)
            .iterator(chunk_size=5000)
        ):
            spot = f"{where}, position {event['position']} (event id {event['id']})"
            if event["source_id"] != source.pk:
                return _broken(events, batches, spot, "belongs to another source")
            if event["position"] == last_position:
                return _broken(events, batches, spot, "two events share this position (inserted)")
            leaf = integrity.leaf_hash(event)
            if leaf != bytes(event["leaf_hash"]):
                return _broken(events, batches, spot, "event altered: its content no longer matches its hash")
            leaves.append(leaf)
            last_position = event["position"]
            events += 1
        if len(leaves) != link.count:
            return _broken(
                events,
                batches,
                where,
                f"holds {len(leaves)} events, the chain recorded {link.count} (events deleted or inserted)",
            )
        if integrity.merkle_root(leaves) != link.merkle_root:
            return _broken(events, batches, where, "Merkle root differs: events reordered or replaced")
        if integrity.link_hash(prev, link.seq, link.count, link.merkle_root) != link.link_hash:
            return _broken(events, batches, where, "the batch record was altered")
        prev, expected_seq, batches = link.link_hash, expected_seq + 1, batches + 1
    if source.chain_seq != expected_seq - 1 or source.chain_hash != prev:
        return _broken(
            events,
            batches,
            f"batch {expected_seq}",
            f"the chain ends at batch {expected_seq - 1} but its head records batch {source.chain_seq}",
        )
    stray = Event.objects.filter(source=source).count() - events
    if stray:
        return _broken(events, batches, "outside the chain", f"{stray} event(s) belong to no chained batch")
    problem = (
        _check_checkpoints(source)
        or _check_journal(source, journaled)
        or _check_chunks(source)
        or _check_counters(source)
    )
    if problem:
        return _broken(events, batches, *problem)
    return SourceVerification(
        True, events, batches, f"intact: {events} events in {batches} batches, checkpoint signatures valid"
    )


def _check_checkpoints(source: EvidenceSource) -> tuple[str, str] | None:
    links = dict(ChainLink.objects.filter(source=source).values_list("seq", "link_hash"))
    fingerprint = integrity.fingerprint()
    for checkpoint in Checkpoint.objects.filter(source=source).order_by("seq"):
        where = f"checkpoint at batch {checkpoint.seq}"
        if links.get(checkpoint.seq) != checkpoint.link_hash:
            return where, "the signed chain head differs from the stored chain (history rewritten)"
        if checkpoint.key_fingerprint != fingerprint:
            return where, f"signed by another key ({checkpoint.key_fingerprint[:16]}...)"
        message = integrity.checkpoint_message(source.name, checkpoint.seq, checkpoint.link_hash)
        if not integrity.signature_valid(message, checkpoint.signature):
            return where, "the signature does not match"
    return None


def _check_journal(source: EvidenceSource, record: journal.JournalRecord) -> tuple[str, str] | None:
    """The chain against the checkpoints also journaled outside the database: a chain cut short
    (its newest batches and their checkpoints deleted) ends before the journal does."""
    if record.other_identities:
        known = sorted(record.other_identities)[0].partition("@")[2]
        return (
            "source record",
            f"the checkpoint journal outside the database knows source id {source.pk} as created at {known}, "
            "not as the database says (the source record was altered, or the database replaced)",
        )
    heads = record.heads
    if not heads:
        return None
    newest = max(heads)
    if newest > source.chain_seq:
        return (
            f"batch {source.chain_seq + 1}",
            f"missing: the checkpoint journal outside the database records batch {newest}, the chain ends at "
            f"batch {source.chain_seq} (batches deleted from the end)",
        )
    links = dict(ChainLink.objects.filter(source=source, seq__in=heads).values_list("seq", "link_hash"))
    for seq in sorted(heads):
        if links.get(seq) != heads[seq]:
            return f"batch {seq}", "differs from the checkpoint journal outside the database (history rewritten)"
    return None


def missing_journaled_sources() -> list[int]:
    """Ids of sources the checkpoint journal knows and the database no longer has (deleted)."""
    journaled = journal.journaled_source_ids()  # before the database: a source journaled meanwhile is known
    known = set(EvidenceSource.objects.values_list("pk", flat=True))
    return sorted(journaled - known)


def _check_chunks(source: EvidenceSource) -> tuple[str, str] | None:
    """Every chunk the pipeline finished wrote one batch; a finished chunk without one lost it."""
    chained = ChainLink.objects.filter(source=source).values("chunk_id")
    orphan = (
        IngestionChunk.objects.filter(job__source=source, status=IngestionChunk.Status.DONE)
        .exclude(pk__in=chained)
        .order_by("pk")
        .first()
    )
    if orphan is None:
        return None
    return (
        f"chunk {orphan.index} of job {orphan.job_id}",
        f"stored {orphan.events_stored} event(s) but its batch is missing from the chain (deleted)",
    )


def _checked_controls() -> dict[tuple[str, str], Q]:
    """(edition, control) -> the events that count for it. Controls that a supplier-account rule
    reaches are left out: those counts follow the accounts as they were when the events came in."""
    queries: dict[tuple[str, str], Q] = {}
    skipped: set[tuple[str, str]] = set()
    for rule in rules.RULES:
        for edition in ("2013", "2022"):
            for control in rule.controls(edition):
                if rule.supplier_accounts:
                    skipped.add((edition, control))
                else:
                    queries[(edition, control)] = queries.get((edition, control), Q(pk__in=[])) | rule.as_q()
    return {key: query for key, query in queries.items() if key not in skipped}


def counter_disagreements(source: EvidenceSource) -> list[str]:
    """Where the per-control counters (the SoA's machine-evidence figures) do not count the
    source's stored events: "2022 8.15: counted 120, events 118". One pass over the events, each
    counting its ``counting.occurrences`` as ingestion did."""
    checked = _checked_controls()
    names = {key: f"c{index}" for index, key in enumerate(sorted(checked))}
    actual = Event.objects.filter(source=source).aggregate(
        **{names[key]: Sum(occurrences_expression(), filter=query, default=0) for key, query in checked.items()}
    )
    counted = {
        (row["edition"], row["control"]): row["total"]
        for row in ControlEventCount.objects.filter(source=source)
        .values("edition", "control")
        .annotate(total=Sum("events"))
    }
    return [
        f"{edition} {control}: counted {counted.get((edition, control), 0)}, events {actual[names[key]]}"
        for key in sorted(checked)
        for edition, control in [key]
        if counted.get(key, 0) != actual[names[key]]
    ]


def _check_counters(source: EvidenceSource) -> tuple[str, str] | None:
    wrong = counter_disagreements(source)
    if not wrong:
        return None
    return "per-control counters", "disagree with the stored events (" + "; ".join(wrong[:10]) + ")"
