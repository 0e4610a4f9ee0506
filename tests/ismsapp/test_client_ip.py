"""Client addresses trust exactly TRUSTED_PROXY_COUNT proxies; a client cannot spoof its own."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from ismsapp.models import AuditEntry
from ismsapp.net import client_ip


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        (0, "10.0.0.5", "", "10.0.0.5"),
        (0, "10.0.0.5", "203.0.113.66", "10.0.0.5"),  # no proxy trusted: header ignored
        (1, "10.0.0.5", "198.51.100.1", "198.51.100.1"),
        (1, "10.0.0.5", "203.0.113.66, 198.51.100.1", "198.51.100.1"),  # spoofed left entry ignored
        (2, "10.0.0.5", "203.0.113.66, 198.51.100.1, 10.0.0.4", "198.51.100.1"),
        (2, "10.0.0.5", "198.51.100.1", "198.51.100.1"),  # fewer entries than proxies
        (1, "10.0.0.5", "not-an-ip", "10.0.0.5"),
        (1, "10.0.0.5", "[2001:db8::1]:443", "2001:db8::1"),
        (1, "10.0.0.5", "198.51.100.1:5555", "198.51.100.1"),
        (1, "10.0.0.5", "", "10.0.0.5"),
    ],
)
def test_client_ip(settings, trusted, remote, forwarded, expected) -> None:
    settings.TRUSTED_PROXY_COUNT = trusted
    meta = {"REMOTE_ADDR": remote}
    if forwarded:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(RequestFactory().get("/", **meta)) == expected


@pytest.mark.django_db
def test_spoofed_header_does_not_reach_the_audit_trail(settings, client, risk_owner) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    client.post(
        reverse("login"),
        {"username": "risk_owner", "password": "nope"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="1.2.3.4, 192.0.2.50",
    )
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN_FAILED).latest("seq")
    assert entry.remote_addr == "192.0.2.50"
