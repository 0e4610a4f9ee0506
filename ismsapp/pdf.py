"""PDF rendering with WeasyPrint, allowed to load only the app's own static files and data: URLs.

Templates reference stylesheets and images with ``{% static %}``; anything else (http, file,
other hosts, path tricks) is refused, so a value typed by a user can never make the renderer
read a local file or reach the network. WeasyPrint is imported on first use: processes that
never render a PDF (web workers, ingestion) do not pay for it in memory.
"""

from __future__ import annotations

import mimetypes
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.template.loader import render_to_string

PDF_ORIGIN = "https://isms.invalid"  # never resolved: only used to recognise our own static URLs


def static_file_for(url: str) -> Path:
    """The static file a PDF may load for ``url``; ``ValueError`` for anything else."""
    parts = urlsplit(url)
    prefix = "/" + settings.STATIC_URL.strip("/") + "/"
    if f"{parts.scheme}://{parts.netloc}" != PDF_ORIGIN or not parts.path.startswith(prefix):
        raise ValueError(f"PDF resource refused (only the app's static files may be loaded): {url}")
    relative = unquote(parts.path[len(prefix) :])
    if ".." in Path(relative).parts:
        raise ValueError(f"PDF resource refused: {url}")
    try:
        found = finders.find(relative)
    except SuspiciousFileOperation as exc:
        raise ValueError(f"PDF resource refused: {url}") from exc
    if not found:
        raise ValueError(f"static file not found: {relative}")
    return Path(found)


@lru_cache(maxsize=1)
def _fetcher_class() -> type:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        def __init__(self) -> None:
            super().__init__(allowed_protocols={"data", "https"}, allow_redirects=False, timeout=1)

        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            path = static_file_for(url)
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": content_type})

    return StaticOnlyFetcher


def StaticOnlyFetcher() -> Any:
    return _fetcher_class()()


def render_pdf(template_name: str, context: dict[str, Any]) -> bytes:
    """Render a template to PDF bytes. Call it from a Celery task or a command, not in a request."""
    from weasyprint import HTML

    html = render_to_string(template_name, context)
    return HTML(string=html, base_url=PDF_ORIGIN + "/", url_fetcher=StaticOnlyFetcher()).write_pdf()
