"""Reminders to corrective-action owners: before and after the due date, once per threshold,
never a flood (a late action gets only the latest threshold), afresh after a new due date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail

from audits import services
from audits.services.reminders import send_action_reminders
from audits.tasks import remind_corrective_actions

pytestmark = pytest.mark.django_db
RAISED = date(2026, 3, 4)
DUE = RAISED + timedelta(days=30)


@pytest.fixture
def action(compliance_officer, controls_2022, action_owner):
    action_owner.email = "owner@example.org"
    action_owner.save()
    nc = services.raise_nonconformity(
        actor=compliance_officer,
        statement="Visitor log incomplete.",
        severity="minor",
        origin="monitoring",
        control=controls_2022[0],
        raised_on=RAISED,
    )
    return services.add_corrective_action(
        actor=compliance_officer, nonconformity=nc, description="Keep the log.", owner=action_owner, due_date=DUE
    )


def run(day: date, capture) -> int:
    with capture(execute=True):
        return send_action_reminders(day)


def test_each_threshold_reminds_once(action, django_capture_on_commit_callbacks):
    assert run(DUE - timedelta(days=8), django_capture_on_commit_callbacks) == 0
    assert run(DUE - timedelta(days=7), django_capture_on_commit_callbacks) == 1
    assert run(DUE - timedelta(days=6), django_capture_on_commit_callbacks) == 0  # same threshold
    assert run(DUE, django_capture_on_commit_callbacks) == 1
    assert run(DUE, django_capture_on_commit_callbacks) == 0
    assert run(DUE + timedelta(days=8), django_capture_on_commit_callbacks) == 1
    assert [m.to for m in mail.outbox] == [["owner@example.org"]] * 3
    assert "due in 7 days" in mail.outbox[0].subject
    assert "due today" in mail.outbox[1].subject
    assert "7 days overdue" in mail.outbox[2].body
    assert "/audits/my-actions/" in mail.outbox[2].body


def test_a_late_action_gets_one_reminder_not_a_burst(action, django_capture_on_commit_callbacks):
    assert run(DUE + timedelta(days=40), django_capture_on_commit_callbacks) == 1
    assert "40 days" not in mail.outbox[0].subject
    assert "30 days overdue" in mail.outbox[0].subject
    assert run(DUE + timedelta(days=41), django_capture_on_commit_callbacks) == 0


def test_done_actions_are_not_reminded_and_a_new_due_date_starts_afresh(
    action, compliance_officer, action_owner, django_capture_on_commit_callbacks
):
    assert run(DUE, django_capture_on_commit_callbacks) == 1
    services.update_corrective_action(
        actor=compliance_officer,
        action=action,
        description=action.description,
        owner=action_owner,
        due_date=DUE + timedelta(days=20),
    )
    assert run(DUE + timedelta(days=20), django_capture_on_commit_callbacks) == 1
    services.complete_action(actor=action_owner, action=action, completed_on=DUE)
    assert run(DUE + timedelta(days=60), django_capture_on_commit_callbacks) == 0


def test_the_beat_task_runs_the_reminders(action):
    from django.utils import timezone

    late = (timezone.localdate() - DUE).days >= -7  # a threshold has been reached by now
    assert remind_corrective_actions() == {"reminded": 1 if late else 0}
    assert remind_corrective_actions() == {"reminded": 0}  # idempotent
