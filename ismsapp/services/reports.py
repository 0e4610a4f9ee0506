"""Background reports: an app registers a kind (who may request it, how to build it); a request
creates a ``GeneratedReport`` row and a Celery task renders it, so no PDF is rendered in a request."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

from ismsapp.audit import acting_as
from ismsapp.blobs import store_bytes
from ismsapp.models import GeneratedReport, User
from ismsapp.permissions import allowed


@dataclass(frozen=True)
class RenderedFile:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class ReportKind:
    key: str
    permission: str | tuple[str, ...]  # needed to request it and to download it (a tuple: any of them)
    title: Callable[[dict[str, Any]], str]
    build: Callable[[dict[str, Any], User], RenderedFile]
    validate: Callable[[dict[str, Any], User], dict[str, Any]]  # returns cleaned params or raises ValidationError


REPORT_KINDS: dict[str, ReportKind] = {}
logger = logging.getLogger(__name__)


def register(kind: ReportKind) -> None:
    REPORT_KINDS[kind.key] = kind


def kind_of(report: GeneratedReport) -> ReportKind:
    return REPORT_KINDS[report.kind]


@transaction.atomic
def request_report(*, actor: User, kind: str, params: dict[str, Any]) -> GeneratedReport:
    """Queue a report for ``actor``; only they can see and download it."""
    from ismsapp.tasks import render_report

    report_kind = REPORT_KINDS.get(kind)
    if report_kind is None:
        raise ValidationError(f"Unknown report {kind!r}.")
    if not allowed(actor, report_kind.permission):
        raise PermissionDenied(f"Your role may not request the report {kind!r}.")
    cleaned = report_kind.validate(params, actor)
    with acting_as(actor):
        report = GeneratedReport.objects.create(
            kind=kind, title=report_kind.title(cleaned), params=cleaned, requested_by=actor
        )
        assign_perm("ismsapp.view_generatedreport", actor, report)
    render_report.delay(str(report.pk))  # enqueued when this transaction commits
    return report


def build_report(report_id: str) -> GeneratedReport:
    """Render one queued report (called by the Celery task); failures are kept on the row."""
    with transaction.atomic():
        report = GeneratedReport.objects.select_for_update().get(pk=report_id)
        if report.status == GeneratedReport.Status.DONE:
            return report  # a redelivered task: already rendered
        report.status = GeneratedReport.Status.RUNNING
        report.save(update_fields=["status"])
    try:
        rendered = kind_of(report).build(report.params, report.requested_by)
    except Exception as exc:
        logger.exception("report %s (%s) failed", report.pk, report.kind)
        report.status, report.error = GeneratedReport.Status.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
        report.finished_at = timezone.now()
        report.save(update_fields=["status", "error", "finished_at"])
        return report
    report.sha256 = store_bytes(rendered.content)
    report.filename, report.content_type, report.size = rendered.filename, rendered.content_type, len(rendered.content)
    report.status, report.finished_at = GeneratedReport.Status.DONE, timezone.now()
    report.save(update_fields=["sha256", "filename", "content_type", "size", "status", "finished_at"])
    return report
