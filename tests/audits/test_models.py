"""The database keeps the audit records consistent even when the services are bypassed."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from audits.models import Audit, AuditProgramme, CorrectiveAction, EffectivenessVerification, Nonconformity
from controls.models import Clause, Control

pytestmark = pytest.mark.django_db


def _refused(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_programme_and_audit_dates_are_ordered_in_the_database(catalogue, compliance_officer, internal_auditor):
    _refused(
        lambda: AuditProgramme.objects.create(
            title="p",
            edition="2022",
            period_start=date(2026, 1, 1),
            period_end=date(2025, 1, 1),
            objectives="o",
            owner=compliance_officer,
        )
    )
    programme = AuditProgramme.objects.create(
        title="p",
        edition="2022",
        period_start=date(2026, 1, 1),
        period_end=date(2027, 1, 1),
        objectives="o",
        owner=compliance_officer,
    )
    fields = {"programme": programme, "title": "a", "criteria": "c", "lead_auditor": internal_auditor}
    _refused(lambda: Audit.objects.create(**fields, planned_start=date(2026, 3, 2), planned_end=date(2026, 3, 1)))
    _refused(
        lambda: Audit.objects.create(
            **fields,
            planned_start=date(2026, 3, 1),
            planned_end=date(2026, 3, 2),
            actual_start=date(2026, 3, 5),
            actual_end=date(2026, 3, 4),
        )
    )


def test_nonconformity_source_requirement_and_closure_are_consistent(catalogue, compliance_officer):
    control = Control.objects.filter(edition="2022").first()
    clause = Clause.objects.filter(edition="2022").first()
    base = {"severity": "minor", "statement": "s", "raised_on": date(2026, 3, 1), "raised_by": compliance_officer}
    _refused(lambda: Nonconformity.objects.create(**base, source="direct", origin="", control=control))
    _refused(
        lambda: Nonconformity.objects.create(**base, source="direct", origin="other", control=control, clause=clause)
    )
    _refused(lambda: Nonconformity.objects.create(**base, source="direct", origin="other"))
    _refused(lambda: Nonconformity.objects.create(**base, source="checklist", control=control))
    _refused(
        lambda: Nonconformity.objects.create(**base, source="direct", origin="other", control=control, status="closed")
    )
    nc = Nonconformity.objects.create(**base, source="direct", origin="complaint", clause=clause)
    _refused(
        lambda: CorrectiveAction.objects.create(
            nonconformity=nc, description="d", owner=compliance_officer, due_date=date(2026, 4, 1), status="done"
        )
    )
    _refused(
        lambda: EffectivenessVerification.objects.create(
            nonconformity=nc,
            verifier=compliance_officer,
            verified_on=date(2026, 5, 1),
            method="m",
            result="ineffective",
        )
    )
