"""The Celery application.

JSON is the only serialiser (pickle is refused), tasks are acknowledged after they finish
(``acks_late``) with a prefetch of one so a long job never holds others back, and a task sent
inside a database transaction is only enqueued once that transaction commits.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from celery import Celery
from celery.contrib.django.task import DjangoTask
from celery.result import AsyncResult
from celery.schedules import crontab
from celery.utils import uuid
from django.db import transaction

from ismsapp.settings.env import env_int

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ismsapp.settings.base")


class OnCommitTask(DjangoTask):
    """A task that, sent inside an atomic block, is enqueued only when the block commits.

    A worker can then never see a row that is not committed yet, and a rolled-back change
    never starts a task.
    """

    def apply_async(
        self, args: Any = None, kwargs: Any = None, task_id: str | None = None, **options: Any
    ) -> AsyncResult:
        if transaction.get_connection().in_atomic_block:
            task_id = task_id or uuid()
            transaction.on_commit(partial(super().apply_async, args, kwargs, task_id=task_id, **options))
            return self.AsyncResult(task_id)
        return super().apply_async(args, kwargs, task_id=task_id, **options)


app = Celery("ismsapp", task_cls=OnCommitTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_max_memory_per_child=400_000,  # KiB: a child that grew past this (a big PDF) is replaced
    task_ignore_result=True,
    task_track_started=False,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    timezone="UTC",
    enable_utc=True,
    beat_schedule={
        "verify-audit-trail": {"task": "ismsapp.tasks.verify_audit_trail", "schedule": 6 * 3600.0},
        "expire-risk-acceptances": {"task": "risks.tasks.expire_acceptances", "schedule": 3600.0},
        "sign-evidence-checkpoints": {"task": "evidence.tasks.sign_checkpoints", "schedule": 900.0},
        "requeue-stalled-chunks": {"task": "evidence.tasks.requeue_stalled_chunks", "schedule": 300.0},
        # does nothing unless ISMS_BACKUP_DIR is set (see ismsapp/backup.py)
        "nightly-backup": {
            "task": "ismsapp.tasks.nightly_backup",
            "schedule": crontab(hour=env_int("ISMS_BACKUP_HOUR", 2), minute=0),
        },
        "remind-corrective-actions": {"task": "audits.tasks.remind_corrective_actions", "schedule": 3600.0},
    },
)
app.autodiscover_tasks()
