"""Celery: JSON only, enqueue on commit, and a real worker on Redis writing to PostgreSQL."""

from __future__ import annotations

import time

import pytest
from django.db import transaction

from ismsapp.celery import app
from ismsapp.models import AuditVerification
from ismsapp.tasks import verify_audit_trail


def test_configuration_is_json_only_with_late_acks() -> None:
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.result_accept_content == ["json"]
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


@pytest.mark.django_db
def test_task_sent_inside_a_transaction_waits_for_the_commit(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        result = verify_audit_trail.delay()
        assert result.id  # an id is known at once, the message is not sent yet
    assert len(callbacks) == 1


def _wait_until(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.redis
@pytest.mark.postgresql
def test_real_worker_on_redis_writes_to_postgresql(celery_worker_process, isms_admin_tx) -> None:
    worker = celery_worker_process()
    # A pickled message is refused by the worker; the JSON one after it runs.
    worker.send(verify_audit_trail, serializer="pickle")
    worker.send(verify_audit_trail)
    assert _wait_until(lambda: AuditVerification.objects.exists()), worker.stop()
    time.sleep(1)
    log = worker.stop()
    assert AuditVerification.objects.count() == 1, log
    record = AuditVerification.objects.get()
    assert record.intact
    assert record.entries_checked > 0
    assert "untrusted content" in log or "pickle" in log


def test_filesystem_broker_keeps_all_its_state_under_var(tmp_path) -> None:
    """kombu's filesystem transport writes exchange tables to ./control unless told otherwise:
    a task sent on the embedded default must leave nothing in the working directory."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    script = (
        "import django; django.setup();"
        "from ismsapp.celery import app;"
        "app.send_task('ismsapp.tasks.verify_audit_trail', queue='isms-fs-test')"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ismsapp.settings.base",
        "CELERY_BROKER_URL": "filesystem://",
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, check=True, timeout=60)
    assert list(tmp_path.iterdir()) == []
    assert (settings.VAR_DIR / "celery" / "control").is_dir()
