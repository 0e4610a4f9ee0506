"""Client addresses, trusting exactly ``TRUSTED_PROXY_COUNT`` reverse proxies."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid_ip(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The address of the client as seen by the outermost trusted proxy.

    With N trusted proxies, each appends the address it received from to X-Forwarded-For, so the
    client is the N-th entry from the right. Entries further left were written by the client and
    are ignored: a client cannot spoof its address by sending its own X-Forwarded-For.
    """
    remote = _valid_ip(request.META.get("REMOTE_ADDR", ""))
    trusted = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if trusted <= 0:
        return remote
    forwarded = [item for item in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if item.strip()]
    if not forwarded:
        return remote
    candidate = forwarded[-trusted] if len(forwarded) >= trusted else forwarded[0]
    return _valid_ip(candidate) or remote
