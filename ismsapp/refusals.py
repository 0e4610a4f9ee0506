"""Accountability for refused accesses: every refusal lands in the audit trail, within a bound.

A refusal is an answer of 401 (no or a wrong credential, e.g. a push with a bad source token),
403 (not allowed) or 404 on a route that names an object (object scoping: "not found or not
yours"; a missing id and a hidden one look the same to the client and are both recorded).
``AuditContextMiddleware`` calls ``record_refusal`` for every response, so pages, API and pushes
are covered without any view doing it; a view or service that already wrote its own, more
precise refusal entry (``record_event(ACCESS_DENIED, ...)``) is not recorded twice.

Rate limit: at most ``ISMS_REFUSALS_AUDITED_PER_MINUTE`` entries per (actor or client address,
kind) per minute. Refusals beyond it are counted in ``RefusalCounter`` (a table, so the bound
holds across processes and workers) and the count is carried in the next recorded entry of that
key (``detail["suppressed"]``), so a flood leaves a bounded trail that still says how big it was.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from ismsapp.audit import REFUSAL_RECORDED_FLAG, record_event
from ismsapp.net import client_ip

REFUSED_STATUSES = {401: "unauthenticated", 403: "forbidden", 404: "not found or not yours"}
# URL kwargs that name an object (a 404 on such a route is object scoping, not a mistyped URL).
OBJECT_KWARGS = frozenset({"pk", "seq", "source"})


def _names_an_object(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return False
    return any(name in OBJECT_KWARGS or name.endswith("_pk") for name in match.kwargs)


def is_refusal(request: HttpRequest, status: int) -> bool:
    if status == 404:
        return _names_an_object(request)
    return status in REFUSED_STATUSES


def _key(request: HttpRequest, status: int) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"{status}:user:{user.pk}"
    return f"{status}:ip:{client_ip(request) or 'unknown'}"


def _admit(key: str) -> tuple[bool, bool, int]:
    """Count one refusal under ``key``: (record it?, is it the last one recorded this minute?,
    refusals left out before it). Call inside a transaction: the row stays locked until the
    entry is written."""
    from ismsapp.models import RefusalCounter

    limit = settings.ISMS_REFUSALS_AUDITED_PER_MINUTE
    window = timezone.now().replace(second=0, microsecond=0)
    counter = RefusalCounter.objects.select_for_update().filter(key=key).first()
    if counter is None:
        try:
            with transaction.atomic():
                RefusalCounter.objects.create(key=key, window_start=window, recorded=1)
            return True, limit == 1, 0
        except IntegrityError:  # created concurrently by another process
            counter = RefusalCounter.objects.select_for_update().get(key=key)
    if counter.window_start != window:
        counter.window_start, counter.recorded = window, 0
    if counter.recorded >= limit:
        counter.suppressed += 1
        counter.save(update_fields=["window_start", "recorded", "suppressed"])
        return False, False, 0
    carried = counter.suppressed
    counter.recorded += 1
    counter.suppressed = 0
    counter.save(update_fields=["window_start", "recorded", "suppressed"])
    return True, counter.recorded == limit, carried


def record_refusal(request: HttpRequest, status: int) -> None:
    """Record the refused ``request`` (answered ``status``) unless it is not a refusal, was already
    recorded by the view, or its key is over the per-minute bound (then it is counted)."""
    if getattr(request, REFUSAL_RECORDED_FLAG, False) or not is_refusal(request, status):
        return
    from ismsapp.models import AuditEntry

    match = getattr(request, "resolver_match", None)
    with transaction.atomic():
        record, last, carried = _admit(_key(request, status))
        if not record:
            return
        detail: dict[str, Any] = {"status": status, "refusal": REFUSED_STATUSES[status]}
        if match is not None:
            detail["route"] = match.view_name
        if carried:
            detail["suppressed"] = carried  # refusals of this kind by this actor left out before
        if last:
            detail["limit_reached"] = (
                f"{settings.ISMS_REFUSALS_AUDITED_PER_MINUTE} refusals recorded this minute; "
                "further ones are counted and reported in the next entry"
            )
        record_event(AuditEntry.Action.ACCESS_DENIED, request=request, detail=detail)
