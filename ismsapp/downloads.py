"""Every file the app hands out goes through ``attachment``: download headers plus an audit entry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from ismsapp.audit import record_event


def attachment(
    request: HttpRequest,
    content: bytes | Iterable[str] | Iterable[bytes],
    *,
    filename: str,
    content_type: str,
    obj: models.Model | None = None,
    detail: dict[str, Any] | None = None,
) -> HttpResponse | StreamingHttpResponse:
    """Serve ``content`` as a download (never rendered inline) and record who took it."""
    from ismsapp.models import AuditEntry

    if isinstance(content, bytes):
        response: HttpResponse | StreamingHttpResponse = HttpResponse(content, content_type=content_type)
    else:
        response = StreamingHttpResponse(content, content_type=content_type)
    safe_name = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in filename)
    response["Content-Disposition"] = f'attachment; filename="{safe_name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    record_event(AuditEntry.Action.DOWNLOAD, request=request, obj=obj, detail={"filename": safe_name, **(detail or {})})
    return response
