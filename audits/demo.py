"""Demo audit programme: a three-year cycle with a closed audit, one in progress, one planned,
nonconformities in every state (one verified ineffective and reopened) and one impartiality
override (the internal auditor owns clause 9.2 in the SoA and audits clauses 9-10 anyway)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from audits import services
from audits.models import Audit, AuditProgramme, ChecklistItem
from controls import services as soa_services
from controls.models import Clause, ClauseEntry, Control
from ismsapp.models import User

CLOSED_AUDIT_RESULTS = {
    "5.15": ("conforming", "Access control policy v3 approved; 20 of 20 sampled requests followed it."),
    "5.16": ("minor_nc", "3 of 25 leavers kept an active account more than 5 days after leaving."),
    "5.17": ("conforming", "Password rules enforced by the identity provider."),
    "5.18": ("major_nc", "No review of access rights took place in the audited year."),
    "8.2": ("observation", "Privileged accounts listed, but the list is kept in a spreadsheet."),
    "8.5": ("improvement", "MFA is enforced; phishing-resistant keys would close the remaining gap."),
}


def _controls(*refs: str) -> list[Control]:
    return list(Control.objects.filter(edition="2022", ref__in=refs).order_by("position"))


def _clauses(*refs: str) -> list[Clause]:
    return list(Clause.objects.filter(edition="2022", ref__in=refs).order_by("position"))


def _record(audit: Audit, auditor: User, results: dict[str, tuple[str, str]]) -> dict[str, ChecklistItem]:
    items = {}
    for item in audit.checklist.select_related("control", "clause"):
        result, notes = results.get(item.requirement.ref, ("conforming", "Records sampled; no deviation."))
        items[item.requirement.ref] = services.record_checklist_result(
            actor=auditor, item=item, expected_version=item.row_version, result=result, notes=notes, sample_size=10
        )
    return items


def _closed_audit(programme: AuditProgramme, officer: User, auditor: User, people: dict[str, User]) -> Any:
    year = programme.period_start.year
    audit = services.create_audit(
        actor=officer,
        programme=programme,
        title="Identity and access management",
        audit_type=Audit.Type.INTERNAL,
        controls=_controls(*CLOSED_AUDIT_RESULTS),
        processes="Joiners, movers and leavers; privileged access.",
        sites="Head office; cloud identity provider.",
        criteria="ISO/IEC 27001:2022 Annex A 5.15-5.18, 8.2, 8.5; access control policy v3.",
        planned_start=date(year, 3, 2),
        planned_end=date(year, 3, 6),
        lead_auditor=auditor,
    )
    services.change_audit_status(actor=auditor, audit=audit, status="in_progress", on=date(year, 3, 2))
    items = _record(audit, auditor, CLOSED_AUDIT_RESULTS)
    major = services.raise_nonconformity(
        actor=auditor,
        checklist_item=items["5.18"],
        statement="Access rights to production systems were not reviewed during the audited year.",
        evidence="Access review log: last entry two years ago; interview with the IT lead.",
        raised_on=date(year, 3, 4),
    )
    minor = services.raise_nonconformity(
        actor=auditor,
        checklist_item=items["5.16"],
        statement="Leavers' accounts are not always disabled within the 2 days the policy requires.",
        evidence="HR leavers list compared with the identity provider's sign-in logs.",
        raised_on=date(year, 3, 5),
    )
    services.change_audit_status(actor=auditor, audit=audit, status="reporting", on=date(year, 3, 6))
    services.finalise_audit_report(actor=auditor, audit=audit)  # the demo set-up stands for "confirm it's you"
    services.change_audit_status(actor=auditor, audit=audit, status="closed")
    services.update_nonconformity(
        actor=officer,
        nonconformity=major,
        correction="An access review of production systems was run the following week.",
        root_cause="The review had no owner after the IT lead changed roles.",
    )
    review = services.add_corrective_action(
        actor=officer,
        nonconformity=major,
        description="Name an owner for quarterly access reviews and schedule them in the ticketing system.",
        owner=people["admin"],
        due_date=date(year, 4, 30),
    )
    services.complete_action(actor=people["admin"], action=review, completed_on=date(year, 4, 20))
    services.verify_effectiveness(
        actor=auditor,
        nonconformity=major,
        method="Checked the two quarterly review records made since.",
        result="effective",
        verified_on=date(year, 10, 5),
    )
    services.close_nonconformity(actor=officer, nonconformity=major, closed_on=date(year, 10, 6))
    leavers = services.add_corrective_action(
        actor=officer,
        nonconformity=minor,
        description="Trigger account deactivation from the HR leaver workflow.",
        owner=people["riskowner"],
        due_date=date(year, 5, 31),
    )
    services.complete_action(actor=people["riskowner"], action=leavers, completed_on=date(year, 5, 20))
    services.verify_effectiveness(
        actor=auditor,
        nonconformity=minor,
        method="Compared the last 30 leavers with sign-in logs.",
        result="ineffective",
        reason="Contractors leave outside the HR workflow: 2 of 30 accounts stayed active.",
        verified_on=date(year, 10, 5),
    )
    return audit


def _audit_in_progress(programme: AuditProgramme, officer: User, auditor: User, people: dict[str, User]) -> Any:
    today = timezone.localdate()
    clause = ClauseEntry.objects.select_related("clause").get(clause__edition="2022", clause__ref="9.2")
    if clause.owner_id != auditor.pk:
        soa_services.update_clause_entry(
            actor=officer,
            entry=clause,
            expected_version=clause.row_version,
            implementation_status=clause.implementation_status,
            owner=auditor,
            implementation_notes=clause.implementation_notes,
            last_reviewed=clause.last_reviewed,
        )
    audit = services.create_audit(
        actor=officer,
        programme=programme,
        title="Performance evaluation and improvement",
        audit_type=Audit.Type.INTERNAL,
        clauses=_clauses("9.1", "9.2", "9.3", "10.1", "10.2"),
        controls=_controls("5.35", "5.36"),
        criteria="ISO/IEC 27001:2022 clauses 9 and 10; internal audit procedure v2.",
        planned_start=max(programme.period_start, today - timedelta(days=3)),
        planned_end=today + timedelta(days=4),
        lead_auditor=auditor,
        override_justification=(
            "Ines is the only trained internal auditor; her ownership of clause 9.2 covers the audit "
            "procedure, not its results. The management review will check this part of the report."
        ),
    )
    services.change_audit_status(actor=auditor, audit=audit, status="in_progress", on=audit.planned_start)
    item = audit.checklist.get(clause__ref="9.3")
    item = services.record_checklist_result(
        actor=auditor,
        item=item,
        expected_version=0,
        result="minor_nc",
        notes="The last management review did not consider the results of the previous internal audit.",
        sample_description="Minutes of the last two management reviews",
        sample_size=2,
    )
    conforming = audit.checklist.get(clause__ref="9.1")
    services.record_checklist_result(
        actor=auditor, item=conforming, expected_version=0, result="conforming", notes="Metrics reviewed monthly."
    )
    finding = services.raise_nonconformity(
        actor=auditor,
        checklist_item=item,
        statement="Management review inputs omit the results of internal audits (9.3.2 c).",
        evidence="Minutes of the last management review.",
        raised_on=audit.planned_start,
    )
    action = services.add_corrective_action(
        actor=officer,
        nonconformity=finding,
        description="Add internal audit results to the management review agenda template.",
        owner=officer,
        due_date=today + timedelta(days=21),
    )
    services.report_action_progress(actor=officer, action=action, progress_note="Template draft with the CISO.")
    return audit


def _direct_nonconformities(officer: User, auditor: User, people: dict[str, User]) -> None:
    today = timezone.localdate()
    complaint = services.raise_nonconformity(
        actor=officer,
        statement="A customer received another customer's invoice by e-mail.",
        severity="major",
        origin="complaint",
        control=_controls("5.34")[0],
        correction="The invoice was recalled and the customer informed.",
        root_cause="Mail merge used a stale address column.",
        raised_on=today - timedelta(days=40),
    )
    fix = services.add_corrective_action(
        actor=officer,
        nonconformity=complaint,
        description="Validate recipient addresses against the billing account before sending.",
        owner=people["admin"],
        due_date=today - timedelta(days=10),
    )
    services.complete_action(actor=people["admin"], action=fix, completed_on=today - timedelta(days=12))
    monitoring = services.raise_nonconformity(
        actor=auditor,
        statement="Backups of the payment service failed for 4 nights without an alert.",
        severity="minor",
        origin="monitoring",
        control=_controls("8.13")[0],
        raised_on=today - timedelta(days=60),
    )
    alert = services.add_corrective_action(
        actor=officer,
        nonconformity=monitoring,
        description="Alert the on-call engineer on any failed backup job.",
        owner=people["admin"],
        due_date=today - timedelta(days=30),
    )
    services.complete_action(actor=people["admin"], action=alert, completed_on=today - timedelta(days=35))
    services.verify_effectiveness(
        actor=auditor,
        nonconformity=monitoring,
        method="Simulated a failed backup; the alert reached on-call within 5 minutes.",
        result="effective",
        verified_on=today - timedelta(days=5),
    )
    services.raise_nonconformity(
        actor=officer,
        statement="The supplier register lacks the security clauses of two new hosting contracts.",
        severity="minor",
        origin="management",
        control=_controls("5.20")[0],
        raised_on=today - timedelta(days=2),
    )


def load_demo_audits() -> str:
    """Fill the audit programme once (skipped when a programme exists)."""
    if AuditProgramme.objects.exists():
        return "audit programme already present: demo audits not added"
    people = {
        user.username: user
        for user in User.objects.filter(username__in=["compliance", "auditor", "admin", "riskowner"])
    }
    officer, auditor = people["compliance"], people["auditor"]
    year = timezone.localdate().year
    programme = services.create_programme(
        actor=officer,
        title=f"Certification cycle {year - 1}-{year + 1}",
        edition="2022",
        period_start=date(year - 1, 1, 1),
        period_end=date(year + 1, 12, 31),
        objectives=(
            "Audit every applicable Annex A control and clauses 4-10 once in the cycle; controls treating "
            "risks above the appetite every year; prepare the surveillance and recertification audits."
        ),
        methods="Interviews, document review, sampling of records, re-performance of controls.",
        owner=officer,
    )
    _closed_audit(programme, officer, auditor, people)
    _audit_in_progress(programme, officer, auditor, people)
    services.create_audit(
        actor=officer,
        programme=programme,
        title="Technological controls: operations",
        audit_type=Audit.Type.INTERNAL,
        controls=_controls("8.7", "8.8", "8.13", "8.15", "8.16"),
        criteria="ISO/IEC 27001:2022 Annex A 8.7-8.16; operations handbook.",
        planned_start=date(year + 1, 2, 9),
        planned_end=date(year + 1, 2, 12),
        lead_auditor=auditor,
    )
    _direct_nonconformities(officer, auditor, people)
    return "demo audit programme with 3 audits and 6 nonconformities"
