"""Separation of duties on roles: nobody changes their own roles; the ISMS admin role takes
effect only when a second ISMS admin approves it; revoking the roles of others stays direct."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from ismsapp import services
from ismsapp.models import AuditEntry, RoleGrant, User
from ismsapp.roles import Role, roles_of
from tests.conftest import PASSWORD, confirm_identity

pytestmark = pytest.mark.django_db


def edit(client, user: User, roles: list[str], **extra):
    data = {"first_name": user.first_name, "email": user.email, "is_active": "on", "roles": roles, **extra}
    return client.post(reverse("user_update", args=[user.pk]), data)


@pytest.fixture
def second_admin(personas):
    return services.create_user(actor=None, username="second_admin", password=PASSWORD, roles=[Role.ISMS_ADMIN])


def test_an_admin_cannot_give_themselves_the_compliance_officer_role(client_for, isms_admin, catalogue) -> None:
    client = confirm_identity(client_for("isms_admin"))
    response = edit(client, isms_admin, ["isms_admin", "compliance_officer"])
    assert response.status_code in (302, 400)  # the roles field is read-only on one's own form
    assert roles_of(User.objects.get(pk=isms_admin.pk)) == [Role.ISMS_ADMIN]
    # ... and so the SoA stays the officers' to edit.
    from controls.models import SoAEntry

    row = SoAEntry.objects.filter(control__edition="2022").first()
    assert client.get(reverse("controls:soa_entry_edit", args=[row.pk])).status_code == 403


def test_the_service_refuses_a_change_of_ones_own_roles_naming_the_field(isms_admin) -> None:
    with pytest.raises(ValidationError) as refused:
        services.update_user(
            actor=isms_admin,
            user=isms_admin,
            roles=[Role.ISMS_ADMIN, Role.COMPLIANCE_OFFICER],
            email="",
            first_name="",
            last_name="",
            is_active=True,
        )
    assert "roles" in refused.value.message_dict
    assert roles_of(isms_admin) == [Role.ISMS_ADMIN]
    # Saving one's own details with the same roles still works.
    services.update_user(
        actor=isms_admin,
        user=isms_admin,
        roles=[Role.ISMS_ADMIN],
        email="a@b.test",
        first_name="A",
        last_name="",
        is_active=True,
    )


def test_own_roles_are_shown_read_only_on_ones_own_form(client_for, isms_admin) -> None:
    page = client_for("isms_admin").get(reverse("user_update", args=[isms_admin.pk]))
    assert page.context["form"].fields["roles"].disabled
    assert b"You cannot change your own roles" in page.content


def test_granting_the_admin_role_waits_for_a_second_admin(client_for, isms_admin, second_admin, outsider) -> None:
    client = confirm_identity(client_for("isms_admin"))
    response = edit(client, outsider, ["isms_admin", "risk_owner"])
    assert response.status_code == 302
    outsider.refresh_from_db()
    assert roles_of(outsider) == [Role.RISK_OWNER]  # the other role at once, not the admin role
    grant = RoleGrant.objects.get(user=outsider)
    assert (grant.status, grant.role, grant.requested_by) == ("pending", "isms_admin", isms_admin)

    users_page = client.get(reverse("users"))
    assert b"Waiting for a second ISMS admin" in users_page.content

    # The admin who asked cannot approve it, by page or by service.
    assert client.post(reverse("role_grant_approve", args=[grant.pk])).status_code == 302
    assert roles_of(outsider) == [Role.RISK_OWNER]
    with pytest.raises(ValidationError):
        services.approve_role_grant(actor=isms_admin, grant=grant)

    second = confirm_identity(_client_for_user(second_admin))
    assert second.post(reverse("role_grant_approve", args=[grant.pk])).status_code == 302
    assert set(roles_of(outsider)) == {Role.ISMS_ADMIN, Role.RISK_OWNER}
    grant.refresh_from_db()
    assert (grant.status, grant.decided_by) == ("approved", second_admin)
    events = list(
        AuditEntry.objects.filter(action=AuditEntry.Action.ROLE_GRANT, object_pk=str(outsider.pk))
        .order_by("seq")
        .values_list("additional_data__event", flat=True)
    )
    assert events == ["requested", "granted", "approved"]  # granted: the risk owner role, at once


def test_a_grantee_cannot_approve_their_own_grant(isms_admin, second_admin, outsider) -> None:
    services.update_user(
        actor=isms_admin,
        user=second_admin,
        roles=[Role.ISMS_ADMIN],
        email="",
        first_name="",
        last_name="",
        is_active=True,
    )
    grant = services.users._request_grant(actor=isms_admin, user=second_admin, role=Role.ISMS_ADMIN)
    with pytest.raises(ValidationError):
        services.approve_role_grant(actor=second_admin, grant=grant)


def test_creating_an_admin_account_is_also_pending(client_for, isms_admin) -> None:
    client = confirm_identity(client_for("isms_admin"))
    response = client.post(
        reverse("user_create"),
        {"username": "newadmin", "roles": ["isms_admin"], "password": "A-long-enough-passphrase-7"},
    )
    assert response.status_code == 302
    created = User.objects.get(username="newadmin")
    assert roles_of(created) == []
    assert RoleGrant.objects.filter(user=created, status="pending").exists()


def test_a_second_admin_rejects_and_revoking_is_direct(isms_admin, second_admin, compliance_officer) -> None:
    services.update_user(
        actor=isms_admin,
        user=compliance_officer,
        roles=[Role.COMPLIANCE_OFFICER, Role.ISMS_ADMIN],
        email="",
        first_name="",
        last_name="",
        is_active=True,
    )
    grant = RoleGrant.objects.get(user=compliance_officer)
    services.reject_role_grant(actor=second_admin, grant=grant)
    assert roles_of(compliance_officer) == [Role.COMPLIANCE_OFFICER]
    # Revoking another admin's role needs no second person.
    services.update_user(
        actor=isms_admin, user=second_admin, roles=[], email="", first_name="", last_name="", is_active=True
    )
    assert roles_of(second_admin) == []


def test_only_an_admin_decides_grants(isms_admin, second_admin, compliance_officer, outsider) -> None:
    services.update_user(
        actor=isms_admin, user=outsider, roles=[Role.ISMS_ADMIN], email="", first_name="", last_name="", is_active=True
    )
    grant = RoleGrant.objects.get(user=outsider)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.approve_role_grant(actor=compliance_officer, grant=grant)


def test_commands_and_the_demo_grant_directly(db) -> None:
    user = services.create_user(actor=None, username="boot", password=PASSWORD, roles=[Role.ISMS_ADMIN])
    assert roles_of(user) == [Role.ISMS_ADMIN]


def _client_for_user(user: User):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_an_approved_grant_ends_the_grantees_sessions(isms_admin, second_admin, outsider) -> None:
    from tests.ismsapp.test_sessions import sent_to_login, signed_in

    services.update_user(
        actor=isms_admin,
        user=outsider,
        roles=[Role.ISMS_ADMIN],
        email=outsider.email,
        first_name=outsider.first_name,
        last_name=outsider.last_name,
        is_active=True,
    )
    browser = signed_in("outsider")
    services.approve_role_grant(actor=second_admin, grant=RoleGrant.objects.get(user=outsider))
    assert sent_to_login(browser.get(reverse("dashboard")))
