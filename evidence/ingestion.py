"""The ingestion pipeline: received bytes -> job -> chunks -> parsed events -> COPY -> hash chain.

Every receiver (upload, ``ingest`` command, HTTP push, syslog receiver) calls ``create_job``: the raw
bytes are stored content-addressed and cut into chunks (thousands of lines each, at line
boundaries when the format allows). ``process_chunk`` (a Celery task per chunk) parses one chunk
and writes it in a single transaction, so a chunk delivered twice, or retried after its worker
died, ends exactly as if it had run once.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import logging
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from evidence import integrity, journal, rules, writer
from evidence.attempts import AttemptGrouper
from evidence.counting import occurrences
from evidence.formats import ChunkCut, Format, get_format
from evidence.models import (
    ChainLink,
    Checkpoint,
    ControlEventCount,
    EvidenceSource,
    IngestionChunk,
    IngestionJob,
    RejectedRecord,
    SessionRecording,
)
from evidence.parsers.base import MAX_LINE_BYTES, Event, ParseContext, ParseError, Record
from evidence.parsers.inflate import inflated_if_gzip
from evidence.parsers.sessions import gap_warnings, redact_hidden_input, session_events, to_asciicast_v2
from evidence.parsers.years import YearPlan, plan_years
from ismsapp.audit import acting_as
from ismsapp.blobs import blob_path, store_bytes, store_stream
from ismsapp.cleaning import refuse_control_characters
from ismsapp.models import User

logger = logging.getLogger(__name__)
CHUNK_BYTES = 1024 * 1024  # about 8,000 auth.log lines: memory stays small whatever the file
COUNTER_ROWS_PER_STATEMENT = 1000  # within every database's limit on parameters per statement


# --- jobs -------------------------------------------------------------------------------------


MAX_BOUNDARY_LINES = 10_000  # lines looked through for a chunk boundary before cutting anyway


def plan_chunks(path: str, size: int, cut: ChunkCut | None, chunk_bytes: int | None = None) -> list[tuple[int, int]]:
    """Byte ranges covering the file, each ending at a line end where ``cut`` allows a chunk to
    begin (the whole file as one range for None)."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    if cut is None or size <= chunk_bytes:
        return [(0, size)]
    ranges, start = [], 0
    with open(path, "rb") as handle:
        while start < size:
            target = start + chunk_bytes
            end = _next_boundary(handle, target, cut) if target < size else size
            ranges.append((start, end))
            start = end
    return ranges


def _next_boundary(handle: BinaryIO, target: int, cut: ChunkCut) -> int:
    """The first line start after ``target`` (and after ``cut.window`` whole lines) where ``cut``
    allows a chunk to begin; the end of the file if none. Lines are compared by their first
    ``MAX_LINE_BYTES``: a huge line is skipped, never held whole."""
    handle.seek(target)
    _read_line_head(handle)  # the rest of the line ``target`` falls in
    behind: deque[bytes] = deque(maxlen=cut.window)
    ahead: deque[tuple[int, bytes]] = deque()  # (offset, line)
    while len(behind) < cut.window and (line := _read_line_head(handle)):
        behind.append(line)
    for _ in range(MAX_BOUNDARY_LINES):
        while len(ahead) < cut.window:
            offset = handle.tell()
            if not (line := _read_line_head(handle)):
                break
            ahead.append((offset, line))
        if not ahead or not behind:
            return handle.tell()  # the end of the file
        if cut.allows(behind, [line for _, line in ahead]):
            return ahead[0][0]
        behind.append(ahead.popleft()[1])
    return ahead[0][0] if ahead else handle.tell()


def _read_line_head(handle: BinaryIO) -> bytes:
    """The next line's first ``MAX_LINE_BYTES`` (b"" at the end of the file); the handle is left
    at the start of the line after it."""
    head = handle.readline(MAX_LINE_BYTES)
    if head and not head.endswith(b"\n"):
        while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
            pass
    return head


def create_job(
    *,
    actor: User | None,
    source: EvidenceSource,
    fmt: str,
    stream: BinaryIO,
    filename: str = "",
    receiver: str = IngestionJob.Receiver.COMMAND,
    enqueue: bool = True,
    written_at: datetime | None = None,
    inflate: bool = True,
) -> IngestionJob:
    """Store the bytes (inflated first if they are a gzip file, unless ``inflate`` is off: bytes
    that are not one file, such as a syslog receiver's batch, or a body already inflated), create
    the job and its chunks, and queue one task per chunk (on commit). A file over the size limit,
    or damaged gzip, raises ``ValueError`` (``ParseError`` naming the reason), and a filename with
    control characters ``ValidationError``, leaving nothing."""
    from evidence.tasks import process_chunk_task

    refuse_control_characters(filename, "filename")  # before any byte is stored
    spec = get_format(fmt)
    if inflate and not spec.reads_gzip:
        stream = inflated_if_gzip(stream, settings.EVIDENCE_MAX_UPLOAD_BYTES)
    sha256, size = store_stream(stream, max_bytes=settings.EVIDENCE_MAX_UPLOAD_BYTES)
    ranges = plan_chunks(str(blob_path(sha256)), size, spec.chunk_cut)
    year_plan = None
    if spec.year_less:
        now = timezone.now()
        with blob_path(sha256).open("rb") as handle:
            plan = plan_years(handle, reference=min(written_at or now, now))
        year_plan = plan.as_json() if plan else None
    with transaction.atomic(), acting_as(actor):
        job = IngestionJob.objects.create(
            source=source,
            receiver=receiver,
            format=fmt,
            filename=filename[:255],
            blob_sha256=sha256,
            size=size,
            created_by=actor,
            chunks_total=len(ranges),
            written_at=written_at,
            year_plan=year_plan,
        )
        chunks = IngestionChunk.objects.bulk_create(
            [IngestionChunk(job=job, index=i, start_offset=s, end_offset=e) for i, (s, e) in enumerate(ranges)]
        )
        if enqueue:
            for chunk in chunks:
                process_chunk_task.delay(chunk.pk)
    return job


# --- parsing one chunk ---------------------------------------------------------------------------


class RangeReader(io.RawIOBase):
    """A read-only view of ``[start, end)`` of a file."""

    def __init__(self, handle: BinaryIO, start: int, end: int) -> None:
        super().__init__()
        handle.seek(start)
        self.handle, self.remaining = handle, end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.remaining <= 0:
            return 0
        data = self.handle.read(min(len(buffer), self.remaining))
        buffer[: len(data)] = data
        self.remaining -= len(data)
        return len(data)


@dataclass
class ChunkResult:
    """Everything a chunk produced; lists are indexed by position."""

    rows: list[tuple[Any, ...]]
    leaves: list[bytes]
    matched: list[list[str]]  # rule keys
    times: list[datetime | None]
    weights: list[int]  # what each event adds to the per-control figures (``counting.occurrences``)
    rejected: list[RejectedRecord]
    records_read: int = 0
    records_empty: int = 0
    records_with_events: int = 0


def _clean_text(value: Any, limit: int | None = None) -> str:
    if not value:
        return ""
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return text[:limit] if limit else text


class ChunkBuilder:
    """Turns parsed events into rows, leaves and rule matches, numbering positions in order.

    This is the per-event hot path of ingestion: no intermediate objects beyond what is stored.
    """

    def __init__(self, chunk: IngestionChunk, source: EvidenceSource, received_at: datetime) -> None:
        self.chunk, self.source, self.received_at = chunk, source, received_at
        self.match = rules.RuleMatcher(frozenset(source.supplier_account_list))
        self.match_fields = [(name, integrity.CANONICAL_FIELDS.index(name)) for name in self.match.fields]
        self.result = ChunkResult([], [], [], [], [], [])
        self.attempts = AttemptGrouper()
        self.occurrences: dict[bytes, int] = {}

    def add(self, event: Event, dedup_material: bytes, raw_offset: int, raw_length: int) -> None:
        result = self.result
        pid = event.pid if event.pid is not None and -(2**63) < event.pid < 2**63 else None
        self.attempts.mark(event, len(result.rows))  # before hashing: the marker is part of the event
        # The hashed values, in integrity.CANONICAL_FIELDS order (which is also writer.COLUMNS order).
        hashed = (
            event.time.astimezone(UTC) if event.time else None,
            self.received_at,
            _clean_text(event.host, 255),
            _clean_text(event.program, 255),
            pid,
            _clean_text(event.user, 255),
            _clean_text(event.target_user, 255),
            _clean_text(event.source_ip, 64),
            str(event.action),
            str(event.outcome),
            _clean_text(event.session_id, 255),
            _clean_text(event.command),
            _clean_text(event.message),
            integrity.extra_json(event.extra),
        )
        dedup_key = self._dedup_key(dedup_material)
        leaf = integrity.leaf_hash_of((*hashed, dedup_key))
        result.leaves.append(leaf)
        result.times.append(hashed[0])
        result.weights.append(occurrences(event.extra))
        result.matched.append(self.match({name: hashed[index] for name, index in self.match_fields}))
        result.rows.append(
            (
                self.source.pk,
                self.chunk.job_id,
                self.chunk.pk,
                len(result.rows),
                dedup_key,
                leaf,
                *hashed,
                raw_offset,
                raw_length,
            )
        )  # in writer.COLUMNS order

    def _dedup_key(self, material: bytes) -> bytes:
        """SHA-256 of the record's bytes; the n-th identical record of the chunk (the same failed
        login twice in one second) gets a key of its own, so it is stored, not taken for a copy.
        A chunk read again yields the same keys: the same file, or chunk, is still stored once.
        (Numbering is per chunk: identical records that fall into different chunks of a file are
        still taken for one.)"""
        key = hashlib.sha256(material).digest()
        seen = self.occurrences.get(key, 0)
        self.occurrences[key] = seen + 1
        return hashlib.sha256(b"%b#%d" % (key, seen)).digest() if seen else key

    def reject(self, record: Record, reason: str, detail: str) -> None:
        self.result.rejected.append(
            RejectedRecord(
                chunk=self.chunk,
                offset=record.offset,
                length=record.length,
                line=record.line,
                reason=reason[:40],
                detail=detail[:500],
                raw=bytes(record.data[: RejectedRecord.RAW_CAP]),
            )
        )


def parse_records(
    parser: Any, stream: BinaryIO, start_offset: int, builder: ChunkBuilder, context: ParseContext
) -> None:
    """Every record of ``stream``: its events into ``builder``, or one rejection with its reason."""
    result = builder.result
    plan = context.year_plan
    if plan is not None and plan.single_year is not None:
        context.year, plan = plan.single_year, None  # the common case: one year, nothing doubtful
    for record in parser.records(stream, start_offset):
        result.records_read += 1
        if plan is not None:
            context.year, context.time_doubt = plan.year_at(record.offset), plan.doubt_at(record.offset)
        try:
            events = parser.parse(record, context)
        except ParseError as exc:
            builder.reject(record, exc.reason, exc.detail)
            continue
        if events:
            result.records_with_events += 1
        else:
            result.records_empty += 1
        for index, event in enumerate(events):
            builder.add(event, record.data + b"\x00" + str(index).encode(), record.offset, record.length)


def _chunk_stream(handle: BinaryIO, chunk: IngestionChunk) -> BinaryIO:
    """The chunk's bytes (the file itself when the chunk is the whole file: EVTX needs the file)."""
    if chunk.start_offset == 0 and chunk.end_offset == chunk.job.size:
        return handle
    return io.BufferedReader(RangeReader(handle, chunk.start_offset, chunk.end_offset))


def _parse_sessions(
    spec: Format,
    handle: BinaryIO,
    chunk: IngestionChunk,
    builder: ChunkBuilder,
    context: ParseContext,
    source: EvidenceSource,
) -> None:
    whole = Record(0, b"", 1, chunk.job.size)
    builder.result.records_read += 1
    try:
        recordings = spec.sessions(handle)
    except ParseError as exc:
        builder.reject(whole, exc.reason, exc.detail)
        return
    if recordings:
        builder.result.records_with_events += 1
    else:
        builder.result.records_empty += 1
    for recording in recordings:
        playback = store_bytes(to_asciicast_v2(redact_hidden_input(recording)))
        events = session_events(recording, context)
        session_id = next((e.session_id for e in events if e.session_id), recording.sha256[:16])
        SessionRecording.objects.get_or_create(
            source=source,
            session_id=session_id,
            sha256=recording.sha256,
            defaults={
                "job": chunk.job,
                "format": spec.name,
                "user": recording.user[:255],
                "host": recording.host[:255],
                "title": (recording.title or "")[:500],
                "started_at": recording.started_at,
                "ended_at": recording.ended_at,
                "duration_seconds": recording.frames[-1].at if recording.frames else 0,
                "playback_sha256": playback,
                "commands": [{"at": round(c.at, 3), "text": c.text} for c in recording.commands],
                "command_text": "\n".join(c.text for c in recording.commands),
                "warnings": [str(w) for w in recording.warnings],
            },
        )
        for event in [*events, *_gap_events(recording, events)]:
            event.extra.setdefault("recorder", event.program)
            event.program = "session-recording"
            index = len(builder.result.rows)
            builder.add(event, recording.sha256.encode() + b"\x00" + str(index).encode(), 0, chunk.job.size)


def _gap_events(recording: Any, events: list[Event]) -> list[Event]:
    """A recording with missing parts is evidence too: of a gap (control A.12.4.2 / 8.15)."""
    from evidence.parsers.base import Action, Outcome

    gaps = gap_warnings(recording)
    if not gaps:
        return []
    start = events[0] if events else None
    return [
        Event(
            time=start.time if start else recording.started_at,
            host=recording.host,
            user=recording.user,
            program="session-recording",
            action=Action.LOG_CLEARED,
            outcome=Outcome.UNKNOWN,
            session_id=start.session_id if start else "",
            message="; ".join(gaps)[:2000],
            extra={"recording_gap": True},
        )
    ]


# --- writing one chunk ---------------------------------------------------------------------------


def _count_evidence(source: EvidenceSource, result: ChunkResult, inserted: set[int]) -> None:
    """Add the chunk's new events to the per-control, per-day counters (an event counts its
    ``counting.occurrences`` once per control however many of its rules map to it: the repetitions
    a reduced line stands for, nothing for a second record of one attempt)."""
    counters: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, None])
    controls_of: dict[tuple[str, ...], set[tuple[str, str]]] = {}
    now = timezone.now()
    for position in inserted:
        matched = tuple(result.matched[position])
        weight = result.weights[position]
        if not matched or not weight:
            continue
        if matched not in controls_of:
            controls_of[matched] = rules.controls_of_rules(matched)
        when = min(result.times[position] or now, now)
        for edition, control in controls_of[matched]:
            counter = counters[(edition, control, when.date())]
            counter[0] += weight
            counter[1] = max(counter[1], when) if counter[1] else when
    _add_counts(ControlEventCount._meta.db_table, ("edition", "control", "day"), source, counters)


def _add_counts(
    table: str, keys: tuple[str, ...], source: EvidenceSource, counters: dict[tuple[Any, ...], list[Any]]
) -> None:
    """Add ``counters`` ({key values: [events, last seen]}) to ``table`` in one upsert."""
    if not counters:
        return
    columns = ("source_id", *keys, "events", "last_seen")
    # In key order: concurrent chunks of a source lock the same counter rows in the same order.
    rows = [[source.pk, *key, count, last_seen] for key, (count, last_seen) in sorted(counters.items())]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), COUNTER_ROWS_PER_STATEMENT):
            batch = rows[start : start + COUNTER_ROWS_PER_STATEMENT]
            placeholders = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(batch))
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {placeholders} "  # noqa: S608 - our names
                f"ON CONFLICT (source_id, {', '.join(keys)}) DO UPDATE SET events = {table}.events + excluded.events, "
                f"last_seen = CASE WHEN excluded.last_seen > {table}.last_seen THEN excluded.last_seen "
                f"ELSE {table}.last_seen END",
                [value for row in batch for value in row],
            )


def _append_link(chunk: IngestionChunk, result: ChunkResult, inserted: set[int]) -> ChainLink:
    """Chain the chunk's batch to its source (the source row lock orders concurrent chunks)."""
    source = EvidenceSource.objects.select_for_update().get(pk=chunk.job.source_id)
    leaves = [result.leaves[position] for position in sorted(inserted)]
    root = integrity.merkle_root(leaves)
    seq = source.chain_seq + 1
    link = ChainLink.objects.create(
        source=source,
        seq=seq,
        chunk=chunk,
        count=len(leaves),
        merkle_root=root,
        prev_hash=source.chain_hash,
        link_hash=integrity.link_hash(source.chain_hash, seq, len(leaves), root),
    )
    latest = max((result.times[p] for p in inserted if result.times[p]), default=None)
    head: dict[str, Any] = {"chain_seq": seq, "chain_hash": link.link_hash}
    if latest and (source.last_event_at is None or latest > source.last_event_at):
        head["last_event_at"] = min(latest, timezone.now())
    # The chain head moves with every chunk: a counter of the pipeline, not a change of the source's
    # settings, so an UPDATE without the audit trail (and without its global lock).
    EvidenceSource.objects.filter(pk=source.pk).update(**head)
    return link


def sign_checkpoint(source: EvidenceSource) -> Checkpoint | None:
    """Sign the source's chain head unless that position is signed already."""
    if source.chain_seq == 0 or Checkpoint.objects.filter(source=source, seq=source.chain_seq).exists():
        return None
    message = integrity.checkpoint_message(source.name, source.chain_seq, source.chain_hash)
    checkpoint = Checkpoint.objects.create(
        source=source,
        seq=source.chain_seq,
        link_hash=source.chain_hash,
        signature=integrity.sign(message),
        key_fingerprint=integrity.fingerprint(),
    )
    # Only what was committed; a journal that cannot be written is logged, not a failed chunk.
    transaction.on_commit(lambda: journal.append(source, checkpoint), robust=True)
    return checkpoint


def _finish_job_if_complete(job: IngestionJob) -> None:
    job = IngestionJob.objects.select_for_update().get(pk=job.pk)
    if job.chunks.exclude(status=IngestionChunk.Status.DONE).exists():
        return
    IngestionJob.objects.filter(pk=job.pk).update(status=IngestionJob.Status.DONE, finished_at=timezone.now())
    sign_checkpoint(EvidenceSource.objects.select_for_update().get(pk=job.source_id))


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a chunk is parsed: everything built stays alive
    until the chunk is written, so collections would scan the same objects again and again (a
    third of the parsing time) and free nothing. Memory stays bounded by the chunk size."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def process_chunk(chunk_id: int) -> IngestionChunk:
    """Parse and store one chunk, all or nothing. Running it again after success does nothing."""
    with collection_paused(), transaction.atomic():
        chunk = IngestionChunk.objects.select_for_update(of=("self",)).select_related("job__source").get(pk=chunk_id)
        if chunk.status == IngestionChunk.Status.DONE:
            return chunk
        job, source = chunk.job, chunk.job.source
        if job.status == IngestionJob.Status.QUEUED:
            IngestionJob.objects.filter(pk=job.pk).update(status=IngestionJob.Status.RUNNING)
        spec = get_format(job.format)
        context = ParseContext(
            received_at=job.created_at,
            reference_time=min(job.written_at or job.created_at, job.created_at),
            default_host=source.hosts.split(",")[0].strip() if source.hosts else "",
            year_plan=YearPlan.from_json(job.year_plan),
        )
        builder = ChunkBuilder(chunk, source, job.created_at)
        with blob_path(job.blob_sha256).open("rb") as handle:
            if spec.is_session:
                _parse_sessions(spec, handle, chunk, builder, context, source)
            else:
                parse_records(spec.parser, _chunk_stream(handle, chunk), chunk.start_offset, builder, context)
        result = builder.result
        inserted = writer.write_rows(result.rows)
        RejectedRecord.objects.bulk_create(result.rejected, batch_size=1000)
        _count_evidence(source, result, inserted)
        _append_link(chunk, result, inserted)
        chunk.status, chunk.finished_at = IngestionChunk.Status.DONE, timezone.now()
        chunk.records_read, chunk.events_stored = result.records_read, len(inserted)
        chunk.records_with_events, chunk.records_empty = result.records_with_events, result.records_empty
        chunk.duplicates, chunk.rejected = len(result.rows) - len(inserted), len(result.rejected)
        chunk.rejected_by_reason = dict(Counter(r.reason for r in result.rejected))
        chunk.attempts += 1
        chunk.save()
        _finish_job_if_complete(job)
    return chunk


def requeue_stalled(older_than_seconds: float = 600) -> int:
    """Queue again the chunks still pending long after their job was created (their worker died,
    or the broker lost the message). Processing is idempotent, so a second delivery is harmless."""
    from evidence.tasks import process_chunk_task

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stalled = list(
        IngestionChunk.objects.filter(status=IngestionChunk.Status.PENDING, job__created_at__lte=cutoff).values_list(
            "pk", flat=True
        )
    )
    for chunk_id in stalled:
        process_chunk_task.delay(chunk_id)
    return len(stalled)


def mark_chunk_failed(chunk_id: int, error: str) -> None:
    with transaction.atomic():
        chunk = IngestionChunk.objects.select_for_update().get(pk=chunk_id)
        if chunk.status == IngestionChunk.Status.DONE:
            return
        chunk.status, chunk.error, chunk.attempts = IngestionChunk.Status.FAILED, error[:2000], chunk.attempts + 1
        chunk.save(update_fields=["status", "error", "attempts"])
        IngestionJob.objects.filter(pk=chunk.job_id).update(status=IngestionJob.Status.FAILED, error=error[:2000])


# --- summaries ---------------------------------------------------------------------------------


def job_summary(job: IngestionJob) -> dict[str, Any]:
    """What a receiver reports: lines read, events stored, duplicates, rejected and why."""
    counters = ("records_read", "records_with_events", "records_empty", "events_stored", "duplicates", "rejected")
    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    done = 0
    for chunk in job.chunks.all():
        totals.update({name: getattr(chunk, name) for name in counters})
        reasons.update(chunk.rejected_by_reason)
        done += chunk.status == IngestionChunk.Status.DONE
    return {
        "job": str(job.pk),
        "source": job.source.name,
        "format": job.format,
        "status": job.status,
        "bytes": job.size,
        "sha256": job.blob_sha256,
        "chunks": job.chunks_total,
        "chunks_done": done,
        "lines_read": totals["records_read"],
        "records_with_events": totals["records_with_events"],
        "records_empty": totals["records_empty"],
        "events_stored": totals["events_stored"],
        "duplicates": totals["duplicates"],
        "rejected": totals["rejected"],
        "rejected_by_reason": dict(reasons),
    }
