"""SoA state changes: validation, optimistic locking, publishing, diff, transition 2013 -> 2022."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError

from controls import services
from controls.models import SoAEntry, SoAVersion, snapshot_digest
from controls.services import transition_2013_to_2022
from controls.soa import diff_views, draft_view, version_view
from ismsapp.models import AuditEntry
from tests.controls.edits import edit_entry, soa_entry

pytestmark = pytest.mark.django_db


entry = soa_entry
edit = edit_entry


def test_exclusion_needs_a_justification_and_nothing_is_saved(catalogue, compliance_officer) -> None:
    row = entry("2022", "7.5")
    with pytest.raises(ValidationError) as error:
        edit(compliance_officer, row, applicable=False, justification="   ")
    assert "justification" in error.value.message_dict
    row.refresh_from_db()
    assert row.applicable is True
    assert row.row_version == 0


def test_exclusion_with_justification_clears_inclusion_reasons(catalogue, compliance_officer) -> None:
    row = edit(compliance_officer, entry("2022", "7.5"), inclusion_reasons=["contractual"])
    row = edit(compliance_officer, row, applicable=False, justification="Cloud hosted only.")
    assert (row.applicable, row.inclusion_reasons, row.row_version) == (False, [], 2)
    change = AuditEntry.objects.filter(object_type="controls.soaentry").latest("seq")
    assert change.actor == compliance_officer
    assert change.changes["applicable"] == [True, False]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"implementation_status": "done-ish"}, "implementation_status"),
        ({"inclusion_reasons": ["because"]}, "inclusion_reasons"),
    ],
)
def test_bad_values_are_refused_naming_the_field(catalogue, compliance_officer, changes, field) -> None:
    with pytest.raises(ValidationError) as error:
        edit(compliance_officer, entry("2022", "5.1"), **changes)
    assert field in error.value.message_dict
    assert entry("2022", "5.1").row_version == 0


def test_inactive_owner_is_refused(catalogue, compliance_officer, outsider) -> None:
    outsider.is_active = False
    outsider.save()
    with pytest.raises(ValidationError) as error:
        edit(compliance_officer, entry("2022", "5.1"), owner=outsider)
    assert "owner" in error.value.message_dict


def test_second_save_from_a_stale_copy_is_refused(catalogue, compliance_officer, isms_admin) -> None:
    first_copy = entry("2022", "5.2")
    second_copy = entry("2022", "5.2")
    edit(compliance_officer, first_copy, implementation_status="implemented")
    with pytest.raises(services.EditConflict) as conflict:
        edit(isms_admin, second_copy, implementation_status="planned")
    assert "compliance_officer changed this row" in str(conflict.value)
    assert conflict.value.current.implementation_status == "implemented"
    assert entry("2022", "5.2").implementation_status == "implemented"


def test_publish_freezes_a_snapshot(catalogue, compliance_officer, isms_admin) -> None:
    edit(compliance_officer, entry("2022", "5.1"), implementation_status="implemented", owner=isms_admin)
    version = services.publish_soa(
        actor=compliance_officer,
        edition="2022",
        approver=isms_admin,
        approved_on=date(2026, 3, 1),
        note="Board approval",
    )
    assert version.number == 1
    frozen = version_view(version)
    assert len(frozen.rows) == 93
    assert {row.ref for row in frozen.rows} == {row.ref for row in draft_view("2022").rows}
    row = next(r for r in frozen.rows if r.ref == "5.1")
    assert (row.implementation_status, row.owner) == ("implemented", "isms_admin")
    # Later edits of the draft do not change the published version.
    edit(compliance_officer, entry("2022", "5.1"), implementation_status="planned")
    version.refresh_from_db()
    assert next(r for r in version_view(version).rows if r.ref == "5.1").implementation_status == "implemented"
    second = services.publish_soa(
        actor=compliance_officer, edition="2022", approver=isms_admin, approved_on=date(2026, 3, 2)
    )
    assert second.number == 2
    assert snapshot_digest(second.snapshot) == second.snapshot_sha256


def test_published_version_is_immutable(catalogue, compliance_officer) -> None:
    version = services.publish_soa(
        actor=compliance_officer, edition="2013", approver=compliance_officer, approved_on=date(2026, 1, 1)
    )
    version.note = "changed"
    with pytest.raises(ValidationError):
        version.save()
    with pytest.raises(ValidationError):
        version.delete()
    assert SoAVersion.objects.get(pk=version.pk).note == ""


@pytest.mark.parametrize(
    ("approver", "approved_on", "field"),
    [
        (None, date(2026, 1, 1), "approver"),
        ("officer", None, "approved_on"),
        ("officer", date.today() + timedelta(days=3), "approved_on"),
    ],
)
def test_publish_refuses_missing_approval(catalogue, compliance_officer, approver, approved_on, field) -> None:
    with pytest.raises(ValidationError) as error:
        services.publish_soa(
            actor=compliance_officer,
            edition="2022",
            approver=compliance_officer if approver else None,
            approved_on=approved_on,
        )
    assert field in error.value.message_dict
    assert not SoAVersion.objects.exists()


def test_diff_between_versions_and_draft(catalogue, compliance_officer, isms_admin) -> None:
    v1 = services.publish_soa(
        actor=compliance_officer, edition="2022", approver=isms_admin, approved_on=date(2026, 1, 1)
    )
    edit(compliance_officer, entry("2022", "8.15"), implementation_status="implemented", owner=isms_admin)
    edit(compliance_officer, entry("2022", "7.5"), applicable=False, justification="Cloud only")
    changes = {c.ref: c.changes for c in diff_views(version_view(v1), draft_view("2022"))}
    assert set(changes) == {"8.15", "7.5"}
    assert changes["8.15"]["implementation_status"] == ("not_started", "implemented")
    assert changes["8.15"]["owner"] == ("", "isms_admin")
    assert changes["7.5"]["applicable"] == (True, False)


def test_transition_copies_merges_and_flags(catalogue, compliance_officer, isms_admin, risk_owner) -> None:
    edit(
        compliance_officer,
        entry("2013", "A.12.4.1"),
        implementation_status="implemented",
        owner=isms_admin,
        inclusion_reasons=["risk_treatment"],
        implementation_notes="SIEM collects logs",
    )
    edit(
        compliance_officer,
        entry("2013", "A.12.4.2"),
        implementation_status="partially_implemented",
        owner=isms_admin,
        inclusion_reasons=["legal_regulatory"],
    )
    edit(compliance_officer, entry("2013", "A.12.4.3"), implementation_status="implemented", owner=isms_admin)
    edit(
        compliance_officer,
        entry("2013", "A.6.1.2"),
        implementation_status="planned",
        owner=risk_owner,
        inclusion_reasons=["business_requirement"],
    )
    edit(compliance_officer, entry("2013", "A.11.1.1"), applicable=False, justification="No premises")

    result = transition_2013_to_2022(actor=compliance_officer)
    assert result.new == 11
    assert result.merged == 24
    assert result.copied == 93 - 11 - 24

    merged = entry("2022", "8.15")  # <- A.12.4.1, A.12.4.2, A.12.4.3
    assert merged.review_needed
    assert "A.12.4.1, A.12.4.2, A.12.4.3" in merged.review_note
    assert merged.implementation_status == "partially_implemented"  # the least advanced source
    assert merged.inclusion_reasons == ["legal_regulatory", "risk_treatment"]
    assert merged.owner == isms_admin
    assert "[A.12.4.1] SIEM collects logs" in merged.implementation_notes

    copied = entry("2022", "5.3")  # <- A.6.1.2 only
    assert not copied.review_needed
    assert (copied.implementation_status, copied.owner, copied.inclusion_reasons) == (
        "planned",
        risk_owner,
        ["business_requirement"],
    )
    excluded = entry("2022", "7.1")  # <- A.11.1.1 only
    assert (excluded.applicable, excluded.justification) == (False, "No premises")

    flagged = set(
        SoAEntry.objects.filter(control__edition="2022", review_needed=True).values_list("control__ref", flat=True)
    )
    assert {"5.7", "5.23", "5.30", "7.4", "8.9", "8.10", "8.11", "8.12", "8.16", "8.23", "8.28"} <= flagged
    assert len(flagged) == 11 + 24


def test_transition_does_not_overwrite_edited_rows_unless_asked(catalogue, compliance_officer) -> None:
    edit(compliance_officer, entry("2022", "5.1"), implementation_status="implemented")
    with pytest.raises(ValidationError):
        transition_2013_to_2022(actor=compliance_officer)
    assert entry("2022", "5.1").implementation_status == "implemented"
    transition_2013_to_2022(actor=compliance_officer, overwrite=True)
    assert entry("2022", "5.1").review_needed  # 5.1 <- A.5.1.1, A.5.1.2 is a merge


def test_transition_from_a_published_2013_version_takes_its_values(catalogue, compliance_officer, isms_admin) -> None:
    reviewed = date(2026, 2, 1)
    edit(compliance_officer, entry("2013", "A.6.1.2"), implementation_status="planned", last_reviewed=reviewed)
    edit(compliance_officer, entry("2013", "A.12.4.1"), implementation_status="implemented", owner=isms_admin)
    services.publish_soa(actor=compliance_officer, edition="2013", approver=isms_admin, approved_on=date(2026, 3, 1))
    # Later draft edits are not part of version 1.
    edit(compliance_officer, entry("2013", "A.6.1.2"), implementation_status="implemented")
    edit(compliance_officer, entry("2022", "5.3"), implementation_status="not_started", last_reviewed=reviewed)

    transition_2013_to_2022(actor=compliance_officer, overwrite=True, version=1)
    copied = entry("2022", "5.3")  # <- A.6.1.2 only: its published values, review date included
    assert (copied.implementation_status, copied.last_reviewed, copied.review_needed) == ("planned", reviewed, False)
    merged = entry("2022", "8.15")  # <- A.12.4.1-3: owner resolved from the published username
    assert (merged.owner, merged.last_reviewed, merged.review_needed) == (isms_admin, None, True)
    assert entry("2022", "5.7").last_reviewed is None  # new in 2022

    transition_2013_to_2022(actor=compliance_officer, overwrite=True)  # the working draft
    assert entry("2022", "5.3").implementation_status == "implemented"


def test_transition_from_a_version_that_does_not_exist_is_refused_naming_it(catalogue, compliance_officer) -> None:
    before = list(SoAEntry.objects.filter(control__edition="2022").values_list("row_version", flat=True))
    with pytest.raises(ValidationError) as refused:
        transition_2013_to_2022(actor=compliance_officer, version=4)
    assert "no published version 4" in refused.value.message_dict["version"][0]
    assert list(SoAEntry.objects.filter(control__edition="2022").values_list("row_version", flat=True)) == before


def test_confirm_review_clears_the_flag(catalogue, compliance_officer) -> None:
    transition_2013_to_2022(actor=compliance_officer)
    row = entry("2022", "5.7")
    confirmed = services.confirm_review(actor=compliance_officer, entry=row, expected_version=row.row_version)
    assert (confirmed.review_needed, confirmed.review_note) == (False, "")
