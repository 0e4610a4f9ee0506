"""Every state change of the audits app (``programme``: planning, auditors, checklists;
``findings``: nonconformities and corrective actions) and the named checks (``rules``)."""

from audits.services.findings import (
    add_corrective_action,
    close_nonconformity,
    complete_action,
    raise_nonconformity,
    report_action_progress,
    update_corrective_action,
    update_nonconformity,
    verify_effectiveness,
)
from audits.services.programme import (
    assign_auditors,
    change_audit_status,
    create_audit,
    create_programme,
    generate_checklist,
    record_checklist_result,
    update_audit,
    update_programme,
)
from audits.services.report import finalise_audit_report

__all__ = [
    "add_corrective_action",
    "assign_auditors",
    "change_audit_status",
    "close_nonconformity",
    "complete_action",
    "create_audit",
    "create_programme",
    "finalise_audit_report",
    "generate_checklist",
    "raise_nonconformity",
    "record_checklist_result",
    "report_action_progress",
    "update_audit",
    "update_corrective_action",
    "update_nonconformity",
    "update_programme",
    "verify_effectiveness",
]
