"""The audit objects the generic route test points at (built inside its rolled-back world)."""

from __future__ import annotations

from datetime import date
from typing import Any


def build_audits_world(personas: dict[str, Any], risk: Any) -> dict[str, Any]:
    """A programme, an audit in progress led by the internal auditor, a nonconformity raised from
    its checklist against a control treating ``risk``, with an action owned by the risk owner."""
    from audits import services
    from controls.models import Clause, Control

    officer, auditor = personas["compliance_officer"], personas["internal_auditor"]
    programme = services.create_programme(
        actor=officer,
        title="Route programme",
        edition="2022",
        period_start=date(2026, 1, 1),
        period_end=date(2028, 12, 31),
        objectives="Route objectives.",
        owner=officer,
    )
    controls = list(Control.objects.filter(edition="2022").order_by("position")[:2])
    audit = services.create_audit(
        actor=officer,
        programme=programme,
        title="Route audit",
        criteria="ISO/IEC 27001:2022",
        planned_start=date(2026, 3, 2),
        planned_end=date(2026, 3, 6),
        lead_auditor=auditor,
        controls=controls,
        clauses=[Clause.objects.filter(edition="2022", is_heading=False).first()],
    )
    audit = services.change_audit_status(actor=auditor, audit=audit, status="in_progress", on=date(2026, 3, 2))
    item = audit.checklist.get(control=controls[0])
    item = services.record_checklist_result(actor=auditor, item=item, expected_version=0, result="minor_nc")
    nonconformity = services.raise_nonconformity(
        actor=auditor, checklist_item=item, statement="Route finding.", raised_on=date(2026, 3, 3)
    )
    risk.controls.add(controls[0])
    action = services.add_corrective_action(
        actor=officer,
        nonconformity=nonconformity,
        description="Route action.",
        owner=personas["risk_owner"],
        due_date=date(2026, 4, 1),
    )
    # a second nonconformity, raised directly, whose action was found ineffective (a verification)
    direct = services.raise_nonconformity(
        actor=officer,
        statement="Route direct finding.",
        severity="minor",
        origin="monitoring",
        clause=Clause.objects.filter(edition="2022", is_heading=False).last(),
        raised_on=date(2026, 2, 1),
    )
    done = services.add_corrective_action(
        actor=officer, nonconformity=direct, description="Route fix.", owner=officer, due_date=date(2026, 2, 10)
    )
    services.complete_action(actor=officer, action=done, completed_on=date(2026, 2, 9))
    verification = services.verify_effectiveness(
        actor=auditor,
        nonconformity=direct,
        method="Route method.",
        result="ineffective",
        reason="Route reason.",
        verified_on=date(2026, 2, 12),
    )
    from audits.services.calendar import issue_calendar_feed

    return {
        "calendar_secret": issue_calendar_feed(actor=auditor),
        "verification": verification,
        "audit_programme": programme,
        "audit": audit,
        "checklist_item": item,
        "nonconformity": nonconformity,
        "corrective_action": action,
    }
