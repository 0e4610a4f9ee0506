"""Shared objects of the audit tests: a programme on the 2022 edition and a second auditor."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import PASSWORD
from tests.risks.conftest import make_risk  # noqa: F401  (risks treated by audited controls)


@pytest.fixture
def second_auditor(personas: dict) -> object:
    """Another internal auditor: the one who verifies what the first one raised."""
    from ismsapp import services
    from ismsapp.roles import Role

    return services.create_user(actor=None, username="second_auditor", password=PASSWORD, roles=[Role.INTERNAL_AUDITOR])


@pytest.fixture
def action_owner(personas: dict) -> object:
    """A user without any role who is given a corrective action."""
    from ismsapp import services

    return services.create_user(actor=None, username="action_owner", password=PASSWORD, roles=[])


@pytest.fixture
def programme(catalogue, compliance_officer) -> object:
    from audits import services

    return services.create_programme(
        actor=compliance_officer,
        title="Certification cycle 2026-2028",
        edition="2022",
        period_start=date(2026, 1, 1),
        period_end=date(2028, 12, 31),
        objectives="Audit every applicable control and clauses 4-10 once per cycle.",
        methods="Interviews, document review, sampling of records.",
        owner=compliance_officer,
    )


@pytest.fixture
def controls_2022(catalogue) -> list:
    from controls.models import Control

    return list(Control.objects.filter(edition="2022").order_by("position")[:3])


@pytest.fixture
def clause_2022(catalogue) -> object:
    from controls.models import Clause

    return Clause.objects.filter(edition="2022", is_heading=False).order_by("position").first()


@pytest.fixture
def make_audit(programme, compliance_officer, internal_auditor, controls_2022, clause_2022):
    """``make_audit(**overrides)``: an internal audit of three 2022 controls and one clause."""
    from audits import services

    def build(**overrides):
        values = {
            "title": "Access control audit",
            "audit_type": "internal",
            "criteria": "ISO/IEC 27001:2022 and the access control policy v3.",
            "planned_start": date(2026, 3, 2),
            "planned_end": date(2026, 3, 6),
            "lead_auditor": internal_auditor,
            "controls": controls_2022,
            "clauses": [clause_2022],
        }
        values.update(overrides)
        return services.create_audit(actor=compliance_officer, programme=programme, **values)

    return build


@pytest.fixture
def audit_in_progress(make_audit, internal_auditor):
    from audits import services

    audit = make_audit()
    return services.change_audit_status(actor=internal_auditor, audit=audit, status="in_progress", on=date(2026, 3, 2))
