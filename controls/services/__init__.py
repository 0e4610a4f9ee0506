"""State changes of the controls app, each written once and used by pages, API and exports: the
SoA rows, reviews and published versions (``soa``), and the 2013 -> 2022 transition
(``transition``)."""

from controls.services.soa import (
    AlteredVersionError,
    EditConflict,
    check_version_integrity,
    confirm_review,
    publish_soa,
    update_clause_entry,
    update_soa_entry,
)
from controls.services.transition import TransitionResult, transition_2013_to_2022

__all__ = [
    "AlteredVersionError",
    "EditConflict",
    "TransitionResult",
    "check_version_integrity",
    "confirm_review",
    "publish_soa",
    "transition_2013_to_2022",
    "update_clause_entry",
    "update_soa_entry",
]
