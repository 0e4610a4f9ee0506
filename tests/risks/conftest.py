"""Risk fixtures built through the services, as the pages and the API build them."""

from __future__ import annotations

import pytest

from risks import services


@pytest.fixture
def make_risk(compliance_officer, risk_owner, catalogue):
    """``make_risk(**overrides)``: a treated risk owned by the risk owner (residual 2x3 = medium)."""

    def build(**overrides):
        values = {
            "title": "Laptop theft",
            "owner": risk_owner,
            "inherent_likelihood": 3,
            "inherent_impact": 4,
            "treatment_option": "modify",
            "residual_likelihood": 2,
            "residual_impact": 3,
            "threat": "Theft",
            "vulnerability": "Unencrypted disks",
            "affects_confidentiality": True,
        }
        values.update(overrides)
        return services.create_risk(actor=compliance_officer, **values)

    return build
