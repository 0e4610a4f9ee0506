"""The dashboard shows real figures per role, in a constant number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ismsapp import services
from ismsapp.roles import Role

pytestmark = pytest.mark.django_db


def test_admin_sees_people_and_audit_figures(client_for, client) -> None:
    client.post(reverse("login"), {"username": "risk_owner", "password": "nope"})
    response = client_for("isms_admin").get(reverse("dashboard"))
    panels = {panel["key"]: panel for panel in response.context["panels"]}
    assert set(panels) == {"you", "soa", "risks", "evidence", "people", "audit_trail"}
    assert dict(panels["people"]["roles"])["Risk owner"] == 1
    assert panels["people"]["active"] == 6
    assert panels["people"]["without_role"] == 1
    assert panels["audit_trail"]["failed_logins"] == 1
    assert b'data-figure="failed-logins">1<' in response.content


def test_risk_owner_sees_only_their_panels(client_for) -> None:
    response = client_for("risk_owner").get(reverse("dashboard"))
    assert [panel["key"] for panel in response.context["panels"]] == ["you", "soa", "risks"]
    assert b"Risk owner" in response.content
    assert b"Audit trail" not in response.content


def test_query_count_does_not_grow_with_data(client_for, isms_admin) -> None:
    client = client_for("isms_admin")
    client.get(reverse("dashboard"))
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("dashboard"))
    for index in range(30):
        services.create_user(
            actor=isms_admin, username=f"u{index}", password="A-long-enough-passphrase-7", roles=[Role.RISK_OWNER]
        )
        services.save_organisation(actor=isms_admin, name=f"Org {index}")
    with CaptureQueriesContext(connection) as large:
        client.get(reverse("dashboard"))
    assert len(large) == len(small)
