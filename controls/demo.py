"""Demo SoA content: a plausible 2022 SoA in progress and a published first version."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from controls import services
from controls.models import Edition, ImplementationStatus, InclusionReason, SoAEntry, SoAVersion
from ismsapp.models import User

EXCLUSIONS = {
    "7.5": "All production systems run in a cloud region; physical and environmental threats are covered by the "
    "provider's certified controls (see supplier evidence).",
    "7.11": "No on-premises equipment: supporting utilities are the cloud provider's responsibility.",
    "8.30": "No software development is outsourced.",
}
STATUS_CYCLE = [
    ImplementationStatus.IMPLEMENTED,
    ImplementationStatus.IMPLEMENTED,
    ImplementationStatus.PARTIAL,
    ImplementationStatus.IMPLEMENTED,
    ImplementationStatus.PLANNED,
    ImplementationStatus.NOT_STARTED,
]
REASONS_CYCLE = [
    [InclusionReason.RISK_TREATMENT],
    [InclusionReason.RISK_TREATMENT, InclusionReason.CONTRACTUAL],
    [InclusionReason.LEGAL_REGULATORY],
    [InclusionReason.BUSINESS_REQUIREMENT, InclusionReason.RISK_TREATMENT],
]


def load_demo_soa() -> str:
    """Fill the 2022 working draft once (skipped when anybody edited it already) and publish v1."""
    entries = list(SoAEntry.objects.filter(control__edition=Edition.ISO27001_2022).select_related("control"))
    if any(entry.row_version for entry in entries):
        return "2022 SoA already edited: demo content not applied"
    officer = User.objects.get(username="compliance")
    admin = User.objects.get(username="admin")
    owners = [officer, admin, None]
    today = timezone.localdate()
    for index, entry in enumerate(entries):
        ref = entry.control.ref
        excluded = ref in EXCLUSIONS
        services.update_soa_entry(
            actor=officer,
            entry=entry,
            expected_version=entry.row_version,
            applicable=not excluded,
            inclusion_reasons=[] if excluded else [r.value for r in REASONS_CYCLE[index % len(REASONS_CYCLE)]],
            justification=EXCLUSIONS.get(ref, ""),
            implementation_status=STATUS_CYCLE[index % len(STATUS_CYCLE)],
            owner=owners[index % len(owners)],
            implementation_notes="Evidence: policy document and quarterly review minutes." if index % 4 == 0 else "",
            last_reviewed=today - timedelta(days=30 + index) if index % 3 else None,
        )
    if not SoAVersion.objects.filter(edition=Edition.ISO27001_2022).exists():
        services.publish_soa(
            actor=officer,
            edition=Edition.ISO27001_2022,
            approver=admin,
            approved_on=min(today, date(today.year, today.month, 1)),
            note="First approved SoA for the certification audit.",
        )
    return f"2022 SoA filled ({len(entries)} rows) and version 1 published"
