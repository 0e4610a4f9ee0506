"""Residual-risk acceptance: only the owner, password, justification, expiry, snapshot, second
approval above appetite, voiding on material change, expiry and reminders."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from controls.models import Control
from ismsapp.models import AuditEntry
from risks import services
from risks.models import Risk, RiskAcceptance
from risks.tasks import expire_acceptances
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
JUSTIFICATION = "Disks are encrypted; the remaining exposure is insured."


def refusals() -> int:
    return AuditEntry.objects.filter(
        action=AuditEntry.Action.ACCESS_DENIED, additional_data__event="residual risk acceptance refused"
    ).count()


def accept(actor, risk, **overrides):
    values = {"password": PASSWORD, "justification": JUSTIFICATION, **overrides}
    return services.accept_residual_risk(actor=actor, risk=risk, **values)


def test_owner_accepts_with_a_signed_snapshot(make_risk, risk_owner) -> None:
    control = Control.objects.get(edition="2022", ref="8.24")
    risk = make_risk(controls=[control])
    accepted = accept(risk_owner, risk)
    assert accepted.status == RiskAcceptance.Status.ACTIVE
    assert 360 <= (accepted.expires_on - timezone.localdate()).days <= 366  # default: 12 months
    snapshot = accepted.snapshot
    assert snapshot["residual"] == {"likelihood": 2, "impact": 3, "level": "medium"}
    assert snapshot["inherent"]["level"] == "high"
    assert snapshot["treatment_option"] == "modify"
    assert snapshot["controls"] == ["2022:8.24"]
    assert snapshot["methodology"]["version"] == risk.methodology.version
    assert accepted.snapshot_sha256 == services.digest(snapshot)
    risk.refresh_from_db()
    assert risk.status == Risk.Status.ACCEPTED


@pytest.mark.parametrize("intruder", ["compliance_officer", "isms_admin", "internal_auditor", "outsider"])
def test_nobody_but_the_owner_can_accept(make_risk, personas, intruder) -> None:
    risk = make_risk()
    with pytest.raises(PermissionDenied):
        accept(personas[intruder], risk)
    assert not RiskAcceptance.objects.exists()
    assert refusals() == 1


def test_another_risk_owner_cannot_accept_even_through_the_api_with_a_guessed_id(make_risk, personas) -> None:
    from ismsapp import services as platform
    from ismsapp.roles import Role

    risk = make_risk()
    other_owner = platform.create_user(actor=None, username="other_owner", password=PASSWORD, roles=[Role.RISK_OWNER])
    client = APIClient()
    client.force_authenticate(other_owner)
    response = client.post(
        f"/api/risks/{risk.pk}/accept/", {"password": PASSWORD, "justification": JUSTIFICATION}, format="json"
    )
    assert response.status_code == 404  # the risk is not theirs: not even its existence is confirmed
    assert refusals() == 1
    client.force_authenticate(personas["compliance_officer"])  # sees the risk, is not its owner
    response = client.post(
        f"/api/risks/{risk.pk}/accept/", {"password": PASSWORD, "justification": JUSTIFICATION}, format="json"
    )
    assert response.status_code == 403
    assert refusals() == 2
    assert not RiskAcceptance.objects.exists()


def test_the_accept_page_refuses_others_and_logs_it(make_risk, client_for) -> None:
    risk = make_risk()
    response = client_for("compliance_officer").post(
        reverse("risks:accept", args=[risk.pk]),
        {"password": PASSWORD, "justification": JUSTIFICATION, "expires_on": "2027-01-01"},
    )
    assert response.status_code == 403
    assert refusals() == 1
    assert not RiskAcceptance.objects.exists()


def test_wrong_password_is_refused_and_logged(make_risk, risk_owner, client_for) -> None:
    risk = make_risk()
    with pytest.raises(ValidationError) as error:
        accept(risk_owner, risk, password="not-my-password")
    assert "password" in error.value.message_dict
    response = client_for("risk_owner").post(
        reverse("risks:accept", args=[risk.pk]),
        {"password": "nope", "justification": JUSTIFICATION, "expires_on": str(date.today() + timedelta(days=30))},
    )
    assert response.status_code == 400
    assert "password" in response.context["form"].errors
    assert refusals() == 2
    assert not RiskAcceptance.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"justification": "  "}, "justification"),
        ({"expires_on": date.today()}, "expires_on"),
        ({"expires_on": date.today() + timedelta(days=25 * 31)}, "expires_on"),  # beyond the 24-month maximum
    ],
)
def test_bad_terms_are_refused_naming_the_field(make_risk, risk_owner, overrides, field) -> None:
    risk = make_risk()
    with pytest.raises(ValidationError) as error:
        accept(risk_owner, risk, **overrides)
    assert field in error.value.message_dict
    assert not RiskAcceptance.objects.exists()


def test_a_risk_not_ready_cannot_be_accepted(make_risk, risk_owner) -> None:
    risk = make_risk(residual_likelihood=None, residual_impact=None)
    with pytest.raises(ValidationError) as error:
        accept(risk_owner, risk)
    assert "risk" in error.value.message_dict


def test_above_appetite_needs_another_isms_admin(make_risk, risk_owner, personas) -> None:
    risk = make_risk(residual_likelihood=4, residual_impact=4)  # 16: high, above the "medium" appetite
    pending = accept(risk_owner, risk)
    assert pending.status == RiskAcceptance.Status.PENDING_APPROVAL
    assert pending.needs_second_approval
    risk.refresh_from_db()
    assert risk.status == Risk.Status.ACCEPTANCE_REQUIRED
    with pytest.raises(PermissionDenied):
        services.decide_second_approval(actor=personas["compliance_officer"], acceptance=pending, approve=True)
    with pytest.raises(PermissionDenied):
        services.decide_second_approval(actor=risk_owner, acceptance=pending, approve=True)
    approved = services.decide_second_approval(actor=personas["isms_admin"], acceptance=pending, approve=True)
    assert (approved.status, approved.second_approver) == (RiskAcceptance.Status.ACTIVE, personas["isms_admin"])
    risk.refresh_from_db()
    assert risk.status == Risk.Status.ACCEPTED


def test_an_admin_cannot_approve_their_own_acceptance(compliance_officer, catalogue, personas) -> None:
    from ismsapp import services as platform
    from ismsapp.roles import Role

    dual = platform.create_user(
        actor=None, username="dual", password=PASSWORD, roles=[Role.RISK_OWNER, Role.ISMS_ADMIN]
    )
    risk = services.create_risk(
        actor=compliance_officer,
        title="Dual role",
        owner=dual,
        inherent_likelihood=5,
        inherent_impact=5,
        treatment_option="retain",
        residual_likelihood=5,
        residual_impact=5,
    )
    pending = accept(dual, risk)
    with pytest.raises(ValidationError):
        services.decide_second_approval(actor=dual, acceptance=pending, approve=True)
    refused = services.decide_second_approval(
        actor=personas["isms_admin"], acceptance=pending, approve=False, note="Too risky"
    )
    assert refused.status == RiskAcceptance.Status.REJECTED


@pytest.mark.parametrize(
    ("change", "voids"),
    [
        ({"residual_likelihood": 4, "residual_impact": 4}, True),  # higher residual level
        ({"treatment_option": "share"}, True),
        ({"controls": []}, True),  # the treatment control removed
        ({"description": "More words about the risk."}, False),
        ({"residual_likelihood": 1, "residual_impact": 1}, False),  # lower residual level
    ],
)
def test_a_material_change_voids_the_acceptance(make_risk, risk_owner, compliance_officer, change, voids) -> None:
    control = Control.objects.get(edition="2022", ref="8.24")
    risk = make_risk(controls=[control])
    accepted = accept(risk_owner, risk)
    services.update_risk(actor=compliance_officer, risk=risk, **change)
    accepted.refresh_from_db()
    risk.refresh_from_db()
    if voids:
        assert accepted.status == RiskAcceptance.Status.VOIDED
        assert accepted.end_reason.startswith("voided:")
        assert risk.status == Risk.Status.ACCEPTANCE_REQUIRED
    else:
        assert accepted.status == RiskAcceptance.Status.ACTIVE
        assert risk.status == Risk.Status.ACCEPTED


def test_expiry_task_reopens_the_risk_and_reminds_before(make_risk, risk_owner, django_capture_on_commit_callbacks):
    soon = make_risk(title="Expiring soon")
    late = make_risk(title="Expired")
    expiring = accept(risk_owner, soon, expires_on=timezone.localdate() + timedelta(days=10))
    expired = accept(risk_owner, late, expires_on=timezone.localdate() + timedelta(days=30))
    RiskAcceptance.objects.filter(pk=expired.pk).update(expires_on=timezone.localdate() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        outcome = expire_acceptances()
    assert outcome == {"expired": 1, "reminded": 1}
    expired.refresh_from_db()
    late.refresh_from_db()
    assert expired.status == RiskAcceptance.Status.EXPIRED
    assert late.status == Risk.Status.ACCEPTANCE_REQUIRED
    assert len(mail.outbox) == 1
    assert soon.reference in mail.outbox[0].subject
    assert mail.outbox[0].to == [risk_owner.email]
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_acceptances() == {"expired": 0, "reminded": 0}  # idempotent: one reminder only
    expiring.refresh_from_db()
    assert expiring.reminder_sent_on == timezone.localdate()


def test_revoke(make_risk, risk_owner, personas) -> None:
    risk = make_risk()
    accepted = accept(risk_owner, risk)
    with pytest.raises(PermissionDenied):
        services.revoke_acceptance(actor=personas["internal_auditor"], acceptance=accepted, reason="no")
    with pytest.raises(ValidationError):
        services.revoke_acceptance(actor=risk_owner, acceptance=accepted, reason=" ")
    revoked = services.revoke_acceptance(actor=risk_owner, acceptance=accepted, reason="Insurance cancelled")
    assert revoked.status == RiskAcceptance.Status.REVOKED
    risk.refresh_from_db()
    assert risk.status == Risk.Status.ACCEPTANCE_REQUIRED


def test_history_is_kept_across_re_acceptance(make_risk, risk_owner, compliance_officer) -> None:
    risk = make_risk()
    first = accept(risk_owner, risk)
    services.update_risk(actor=compliance_officer, risk=risk, treatment_option="share")
    second = accept(risk_owner, Risk.objects.get(pk=risk.pk))
    assert list(risk.acceptances.order_by("accepted_at").values_list("status", flat=True)) == [
        RiskAcceptance.Status.VOIDED,
        RiskAcceptance.Status.ACTIVE,
    ]
    assert first.snapshot["treatment_option"] == "modify"
    assert second.snapshot["treatment_option"] == "share"


def _accept_page(client, risk, password: str = PASSWORD, **extra):
    data = {"password": password, "justification": JUSTIFICATION, "expires_on": str(date.today() + timedelta(days=30))}
    return client.post(reverse("risks:accept", args=[risk.pk]), {**data, **extra}, REMOTE_ADDR="192.0.2.44")


def test_guessing_the_acceptance_password_locks_the_owner_out_like_the_login(
    make_risk, risk_owner, client_for, settings
) -> None:
    """Wrong passwords on the acceptance count towards the login's lockout: the guesses stop."""
    risk = make_risk()
    client = client_for("risk_owner")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _accept_page(client, risk, "guess").status_code == 400
    locked = _accept_page(client, risk, "guess")
    assert locked.status_code in (403, 429)
    assert _accept_page(client, risk).status_code in (403, 429)  # even the right password, while locked
    assert not RiskAcceptance.objects.exists()
    api = APIClient()
    api.force_authenticate(risk_owner)
    answer = api.post(
        f"/api/risks/{risk.pk}/accept/",
        {"password": PASSWORD, "justification": JUSTIFICATION},
        format="json",
        REMOTE_ADDR="192.0.2.44",
    )
    assert answer.status_code == 429


def test_an_owner_with_a_second_factor_signs_with_its_code(make_risk, risk_owner, client_for) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.conftest import totp_code

    device = TOTPDevice.objects.create(user=risk_owner, name="phone", confirmed=True)
    risk = make_risk()
    client = client_for("risk_owner")
    assert b'name="otp_code"' in client.get(reverse("risks:accept", args=[risk.pk])).content
    refused = _accept_page(client, risk)
    assert refused.status_code == 400
    assert "otp_code" in refused.context["form"].errors
    assert _accept_page(client, risk, otp_code=totp_code(device)).status_code == 302
    assert RiskAcceptance.objects.get().accepted_by == risk_owner


def test_the_second_approval_needs_a_confirmation(make_risk, risk_owner, personas, client_for) -> None:
    pending = accept(risk_owner, make_risk(residual_likelihood=4, residual_impact=4))
    admin = client_for("isms_admin")
    page = admin.get(reverse("risks:detail", args=[pending.risk_id]))
    assert b'name="identity_password"' in page.content  # confirm it's you inside the approval form
    response = admin.post(reverse("risks:approve", args=[pending.pk]), {"decision": "approve"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == RiskAcceptance.Status.PENDING_APPROVAL
    admin.post(reverse("risks:approve", args=[pending.pk]), {"decision": "approve", "identity_password": PASSWORD})
    pending.refresh_from_db()
    assert pending.status == RiskAcceptance.Status.ACTIVE

    other = accept(risk_owner, make_risk(residual_likelihood=4, residual_impact=5))
    api = APIClient()
    api.force_authenticate(personas["isms_admin"])
    url = f"/api/risk-acceptances/{other.pk}/approve/"
    missing = api.post(url, {"approve": True}, format="json")
    assert missing.status_code == 400
    assert "password" in missing.json()
    assert api.post(url, {"approve": True, "password": PASSWORD}, format="json").status_code == 200
