"""Headers on every response, CSRF, and the production deploy check."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from ismsapp.models import AuditEntry

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/login/", "/", "/api/me/", "/health/", "/does-not-exist/"])
def test_every_response_carries_the_security_headers(client_for, url) -> None:
    response = client_for("compliance_officer").get(url)
    csp = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_pages_contain_no_inline_script_without_nonce(client_for) -> None:
    for url in ["/", "/audit-trail/", "/users/", "/login/"]:
        html = client_for("isms_admin").get(url).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or "nonce=" in tag, f"inline script without nonce on {url}: {tag}"
        assert not re.search(r"\son[a-z]+\s*=", html), f"inline event handler on {url}"


@pytest.mark.django_db
def test_missing_or_forged_csrf_token_is_refused_and_logged(personas) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["isms_admin"])
    response = client.post(reverse("user_unlock", args=[personas["outsider"].pk]))
    assert response.status_code == 403
    assert b"security token" in response.content
    client.cookies["csrftoken"] = "x" * 32
    forged = client.post(reverse("user_unlock", args=[personas["outsider"].pk]), {"csrfmiddlewaretoken": "y" * 32})
    assert forged.status_code == 403
    refused = AuditEntry.objects.filter(action=AuditEntry.Action.ACCESS_DENIED)
    assert refused.count() == 2


@pytest.mark.django_db
def test_login_form_refuses_forged_csrf() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "a", "password": "b"})
    assert response.status_code == 403


def test_production_settings_pass_the_deploy_check(tmp_path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "ismsapp.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "isms.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "ISMS_VAR_DIR": str(tmp_path),
        "DEBUG": "0",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(DJANGO_SETTINGS_MODULE="ismsapp.settings.production", ALLOWED_HOSTS="x", ISMS_VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_cookies_are_secure_and_http_only(monkeypatch) -> None:
    import importlib

    monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(64))
    monkeypatch.setenv("ALLOWED_HOSTS", "isms.example.com")
    production = importlib.import_module("ismsapp.settings.production")

    assert production.SESSION_COOKIE_SECURE
    assert production.SESSION_COOKIE_HTTPONLY
    assert production.CSRF_COOKIE_SECURE
    assert production.CSRF_COOKIE_HTTPONLY
    assert production.SECURE_HSTS_SECONDS >= 31_536_000
