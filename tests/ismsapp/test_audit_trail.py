"""The application's audit trail: what is captured, and that tampering is detected."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.urls import reverse

from ismsapp import services
from ismsapp.audit import verify_chain
from ismsapp.models import AuditEntry, Organisation
from tests.conftest import PASSWORD
from tests.tampering import tamper

pytestmark = pytest.mark.django_db

TABLE = AuditEntry._meta.db_table


def last_entry(**filters) -> AuditEntry:
    return AuditEntry.objects.filter(**filters).order_by("-seq").first()


def verify_command() -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit_trail", "--no-record", stdout=out, stderr=err)
    except CommandError as exc:
        return 1, str(exc)
    return 0, out.getvalue()


def test_create_update_delete_are_captured_with_field_level_values(isms_admin) -> None:
    org = services.save_organisation(actor=isms_admin, name="Acme", isms_scope="HQ")
    created = last_entry(object_type="ismsapp.organisation")
    assert created.action == AuditEntry.Action.CREATE
    assert created.actor == isms_admin
    assert created.changes["name"] == [None, "Acme"]

    services.save_organisation(actor=isms_admin, name="Acme Ltd", isms_scope="HQ")
    updated = last_entry(object_type="ismsapp.organisation")
    assert updated.action == AuditEntry.Action.UPDATE
    assert updated.changes == {"name": ["Acme", "Acme Ltd"]}
    assert updated.object_pk == str(org.pk)

    Organisation.objects.filter(pk=org.pk).get().delete()
    deleted = last_entry(object_type="ismsapp.organisation")
    assert deleted.action == AuditEntry.Action.DELETE
    assert deleted.object_repr == "Acme Ltd"


def test_role_changes_are_captured(isms_admin, outsider) -> None:
    from ismsapp.roles import Role

    services.update_user(
        actor=isms_admin,
        user=outsider,
        roles=[Role.RISK_OWNER],
        email="o@example.test",
        first_name="O",
        last_name="S",
        is_active=True,
    )
    membership = last_entry(object_type="ismsapp.user", action=AuditEntry.Action.UPDATE)
    assert membership.actor == isms_admin
    assert membership.object_pk == str(outsider.pk)
    assert membership.changes["groups"]["operation"] == "add"
    assert membership.changes["groups"]["objects"] == [Role.RISK_OWNER.label]


def test_login_logout_and_failed_login_are_recorded_with_client_ip(client, risk_owner) -> None:
    client.post(reverse("login"), {"username": "risk_owner", "password": "wrong"}, REMOTE_ADDR="198.51.100.7")
    failed = last_entry(action=AuditEntry.Action.LOGIN_FAILED)
    assert failed.additional_data["username"] == "risk_owner"
    assert failed.remote_addr == "198.51.100.7"
    assert failed.actor is None
    assert "wrong" not in str(failed.additional_data)

    client.post(reverse("login"), {"username": "risk_owner", "password": PASSWORD}, REMOTE_ADDR="198.51.100.7")
    login = last_entry(action=AuditEntry.Action.LOGIN)
    assert (login.actor, login.remote_addr) == (risk_owner, "198.51.100.7")

    client.post(reverse("logout"), REMOTE_ADDR="198.51.100.7")
    logout = last_entry(action=AuditEntry.Action.LOGOUT)
    assert logout.actor == risk_owner


def test_refused_access_is_recorded(client_for, risk_owner) -> None:
    response = client_for("risk_owner").get(reverse("audit_trail"))
    assert response.status_code == 403
    refused = last_entry(action=AuditEntry.Action.ACCESS_DENIED)
    assert refused.actor == risk_owner
    assert refused.additional_data["path"] == reverse("audit_trail")


def test_download_is_recorded_and_csv_is_neutralised(client_for, isms_admin) -> None:
    services.save_organisation(actor=isms_admin, name='=HYPERLINK("http://evil")', isms_scope="")
    response = client_for("isms_admin").get(reverse("audit_trail_export"), {"object_type": "ismsapp.organisation"})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    assert rows[0]["object"] == '\'=HYPERLINK("http://evil")'
    download = last_entry(action=AuditEntry.Action.DOWNLOAD)
    assert download.actor == isms_admin
    assert download.additional_data["filename"].startswith("audit-trail-")


def test_audit_trail_page_filters_and_pages_without_offset(
    client_for, isms_admin, django_assert_max_num_queries
) -> None:
    for index in range(60):
        services.save_organisation(actor=isms_admin, name=f"Org {index}")
    client = client_for("isms_admin")
    first = client.get(reverse("audit_trail"), {"object_type": "ismsapp.organisation"})
    assert first.status_code == 200
    page = first.context["page"]
    assert len(page.rows) == 50
    assert page.next_cursor is not None
    second = client.get(reverse("audit_trail"), {"object_type": "ismsapp.organisation", "before": page.next_cursor})
    assert len(second.context["page"].rows) == 10
    assert second.context["page"].next_cursor is None
    assert {e.seq for e in page.rows}.isdisjoint({e.seq for e in second.context["page"].rows})


def test_audit_trail_page_rejects_bad_filters_with_a_message(client_for) -> None:
    response = client_for("isms_admin").get(reverse("audit_trail"), {"since": "not a date", "action": "999"})
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"since", "action"}


def test_entries_cannot_be_changed_through_the_orm(isms_admin) -> None:
    entry = last_entry()
    entry.object_repr = "changed"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()


@pytest.mark.postgresql
def test_database_refuses_update_and_delete(isms_admin) -> None:
    entry = last_entry()
    for statement in (f"UPDATE {TABLE} SET object_repr = 'x' WHERE id = %s", f"DELETE FROM {TABLE} WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [entry.pk])


def _make_history(actor) -> list[AuditEntry]:
    for index in range(5):
        services.save_organisation(actor=actor, name=f"Org {index}")
    return list(AuditEntry.objects.order_by("seq"))


def test_intact_chain_verifies(isms_admin) -> None:
    entries = _make_history(isms_admin)
    assert verify_command() == (0, f"Audit trail intact: {len(entries)} entries verified.\n")


def test_altered_entry_is_named(isms_admin) -> None:
    entries = _make_history(isms_admin)
    victim = entries[3]
    tamper(f"UPDATE {TABLE} SET object_repr = %s WHERE id = %s", ["Innocent Ltd", victim.pk])
    code, message = verify_command()
    assert code == 1
    assert f"#{victim.seq}" in message
    assert "altered" in message


def test_altered_changes_field_is_detected(isms_admin) -> None:
    entries = _make_history(isms_admin)
    victim = entries[-1]
    tamper(f"UPDATE {TABLE} SET remote_addr = %s WHERE id = %s", ["203.0.113.9", victim.pk])
    assert verify_chain().first_bad_seq == victim.seq


def test_deleted_entry_is_named(isms_admin) -> None:
    entries = _make_history(isms_admin)
    victim = entries[2]
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [victim.pk])
    code, message = verify_command()
    assert code == 1
    assert f"#{victim.seq} is missing" in message


def test_deleted_last_entry_is_detected(isms_admin) -> None:
    entries = _make_history(isms_admin)
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [entries[-1].pk])
    result = verify_chain()
    assert not result.intact
    assert result.first_bad_seq == entries[-1].seq


def test_reordered_entries_are_detected(isms_admin) -> None:
    entries = _make_history(isms_admin)
    a, b = entries[1], entries[4]
    tamper(f"UPDATE {TABLE} SET seq = %s WHERE id = %s", [10_000_000, a.pk])
    tamper(f"UPDATE {TABLE} SET seq = %s WHERE id = %s", [a.seq, b.pk])
    tamper(f"UPDATE {TABLE} SET seq = %s WHERE id = %s", [b.seq, a.pk])
    code, message = verify_command()
    assert code == 1
    assert f"#{a.seq}" in message


def test_rehashed_entry_still_breaks_the_next_link(isms_admin) -> None:
    """An attacker who recomputes the altered entry's own hash still breaks the link after it."""
    from ismsapp.audit import compute_hash

    entries = _make_history(isms_admin)
    victim = entries[2]
    victim.object_repr = "Forged"
    forged_hash = compute_hash(victim.prev_hash, victim)
    tamper(f"UPDATE {TABLE} SET object_repr = %s, entry_hash = %s WHERE id = %s", ["Forged", forged_hash, victim.pk])
    result = verify_chain()
    assert result.first_bad_seq == victim.seq + 1
    assert "does not link" in result.detail


def test_verification_is_recorded_for_the_dashboard(isms_admin) -> None:
    from ismsapp.models import AuditVerification

    _make_history(isms_admin)
    call_command("verify_audit_trail", stdout=io.StringIO())
    record = AuditVerification.objects.latest()
    assert record.intact
    assert record.entries_checked == AuditEntry.objects.count()
