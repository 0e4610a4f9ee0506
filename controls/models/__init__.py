"""Catalogue (both editions of Annex A, the mapping, clauses 4-10) and the Statement of Applicability."""

from controls.models.catalogue import Clause, Control, ControlAttribute, ControlGroup, ControlMapping, Edition
from controls.models.soa import (
    ClauseEntry,
    ImplementationStatus,
    InclusionReason,
    SoAEntry,
    SoAVersion,
    snapshot_digest,
)

__all__ = [
    "Clause",
    "ClauseEntry",
    "Control",
    "ControlAttribute",
    "ControlGroup",
    "ControlMapping",
    "Edition",
    "ImplementationStatus",
    "InclusionReason",
    "SoAEntry",
    "SoAVersion",
    "snapshot_digest",
]
