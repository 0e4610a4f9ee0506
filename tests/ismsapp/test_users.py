"""Users and roles, managed by ISMS admins; bad input refused with a message, nothing saved."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ismsapp.models import User
from ismsapp.roles import ROLE_PERMISSIONS, Role, roles_of
from tests.conftest import confirm_identity

pytestmark = pytest.mark.django_db

GOOD = {
    "username": "newbie",
    "first_name": "New",
    "last_name": "Bie",
    "email": "n@example.test",
    "roles": ["risk_owner", "internal_auditor"],
    "password": "A-long-enough-passphrase-7",
}


def test_admin_creates_a_user_with_roles(client_for) -> None:
    response = confirm_identity(client_for("isms_admin")).post(reverse("user_create"), GOOD)
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert {r.value for r in roles_of(user)} == {"risk_owner", "internal_auditor"}
    assert user.check_password(GOOD["password"])


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"password": "short"}, "password", "too short"),
        ({"password": "123456789012"}, "password", "entirely numeric"),
        ({"username": "risk_owner"}, "username", "already exists"),
        ({"username": "Risk_Owner"}, "username", "already exists"),
        ({"username": "bad name!"}, "username", "letters, digits"),
        ({"username": "x" * 151}, "username", "at most 150"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"roles": ["superuser"]}, "roles", "not one of the available choices"),
    ],
)
def test_bad_input_is_refused_naming_the_field(client_for, change, field, message) -> None:
    before = User.objects.count()
    response = confirm_identity(client_for("isms_admin")).post(reverse("user_create"), {**GOOD, **change})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors
    assert message.lower() in " ".join(errors[field]).lower()
    assert User.objects.count() == before


def test_admin_changes_roles_and_deactivates(client_for, outsider) -> None:
    response = confirm_identity(client_for("isms_admin")).post(
        reverse("user_update", args=[outsider.pk]),
        {"first_name": "Out", "last_name": "Sider", "email": "o@example.test", "roles": ["compliance_officer"]},
    )
    assert response.status_code == 302
    outsider.refresh_from_db()
    assert roles_of(outsider) == [Role.COMPLIANCE_OFFICER]
    assert outsider.is_active is False  # unchecked box


def test_admin_cannot_deactivate_themselves(client_for, isms_admin) -> None:
    response = confirm_identity(client_for("isms_admin")).post(
        reverse("user_update", args=[isms_admin.pk]), {"roles": ["isms_admin"], "email": ""}
    )
    assert response.status_code == 400
    assert b"cannot deactivate your own account" in response.content
    isms_admin.refresh_from_db()
    assert isms_admin.is_active


def test_deactivated_user_cannot_log_in(client, outsider) -> None:
    outsider.is_active = False
    outsider.save()
    response = client.post(reverse("login"), {"username": "outsider", "password": "Correct-Horse-Battery-42"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_every_declared_role_permission_exists() -> None:
    from django.contrib.auth.models import Group, Permission

    for role, permissions in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role.label)
        granted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        for full in permissions:
            app_label, codename = full.split(".")
            assert Permission.objects.filter(content_type__app_label=app_label, codename=codename).exists(), full
        assert granted == set(permissions), role
