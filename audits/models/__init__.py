"""Internal audit programme (clause 9.2), nonconformities and corrective actions (clause 10.2)."""

from audits.models.calendar import CalendarFeed
from audits.models.findings import ActionReminder, CorrectiveAction, EffectivenessVerification, Nonconformity
from audits.models.programme import Audit, AuditProgramme, ChecklistItem, ImpartialityOverride
from audits.models.report import AuditReport

__all__ = [
    "ActionReminder",
    "Audit",
    "AuditProgramme",
    "AuditReport",
    "CalendarFeed",
    "ChecklistItem",
    "CorrectiveAction",
    "EffectivenessVerification",
    "ImpartialityOverride",
    "Nonconformity",
]
