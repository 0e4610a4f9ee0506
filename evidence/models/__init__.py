"""Machine evidence: sources, ingestion jobs, events with their hash chain, session recordings."""

from evidence.models.events import ChainLink, Checkpoint, ControlEventCount, Event
from evidence.models.ingestion import IngestionChunk, IngestionJob, RejectedRecord
from evidence.models.sessions import SessionRecording
from evidence.models.sources import EvidenceSource

__all__ = [
    "ChainLink",
    "Checkpoint",
    "ControlEventCount",
    "Event",
    "EvidenceSource",
    "IngestionChunk",
    "IngestionJob",
    "RejectedRecord",
    "SessionRecording",
]
