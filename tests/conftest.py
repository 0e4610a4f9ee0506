"""Shared fixtures: the fixed personas (one user per role plus an outsider) and real services.

Services: PostgreSQL and Redis are used when they answer (see ``ismsapp.settings.test``); tests
marked ``postgresql``/``redis``/``chromium`` skip without them. ``REQUIRE_SERVICES=1`` (CI) turns
any missing service into a failed run instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from ismsapp.roles import Role

PASSWORD = "Correct-Horse-Battery-42"
PERSONAS: dict[str, Role | None] = {
    "compliance_officer": Role.COMPLIANCE_OFFICER,
    "risk_owner": Role.RISK_OWNER,
    "internal_auditor": Role.INTERNAL_AUDITOR,
    "external_auditor": Role.EXTERNAL_AUDITOR,
    "isms_admin": Role.ISMS_ADMIN,
    "outsider": None,  # a logged-in user with no role at all
}
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def _service_available(name: str) -> bool:
    if name == "chromium":
        return Path(CHROMIUM).exists() or shutil.which("chromium") is not None
    return bool(settings.TEST_SERVICES.get(name))


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_SERVICES:
        missing = [name for name in ("postgresql", "redis", "chromium") if not _service_available(name)]
        if missing:
            raise pytest.UsageError(f"REQUIRE_SERVICES=1 but not available: {', '.join(missing)}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for name in ("postgresql", "redis", "chromium"):
            if item.get_closest_marker(name) and not _service_available(name):
                item.add_marker(pytest.mark.skip(reason=f"{name} is not available on this machine"))
        # With CI set, sample tests always run (and fail loudly if the samples are missing).
        if item.get_closest_marker("samples") and not SAMPLES.is_dir() and not os.environ.get("CI"):
            item.add_marker(pytest.mark.skip(reason=f"../shared/samples is absent ({SAMPLES})"))


def make_persona(name: str) -> object:
    from ismsapp import services

    role = PERSONAS[name]
    return services.create_user(
        actor=None,
        username=name,
        password=PASSWORD,
        roles=[role] if role else [],
        first_name=name.replace("_", " ").title(),
        email=f"{name}@example.test",
    )


@pytest.fixture
def personas(db: None) -> dict[str, object]:
    """All personas, by name."""
    return {name: make_persona(name) for name in PERSONAS}


@pytest.fixture
def compliance_officer(personas: dict) -> object:
    return personas["compliance_officer"]


@pytest.fixture
def risk_owner(personas: dict) -> object:
    return personas["risk_owner"]


@pytest.fixture
def internal_auditor(personas: dict) -> object:
    return personas["internal_auditor"]


@pytest.fixture
def external_auditor(personas: dict) -> object:
    return personas["external_auditor"]


@pytest.fixture
def isms_admin(personas: dict) -> object:
    return personas["isms_admin"]


@pytest.fixture
def outsider(personas: dict) -> object:
    return personas["outsider"]


@pytest.fixture
def client_for(personas: dict) -> Callable[[str | None], Client]:
    """``client_for("isms_admin")``: a logged-in test client; ``client_for(None)``: anonymous."""

    def build(name: str | None) -> Client:
        client = Client()
        if name is not None:
            client.force_login(personas[name])
        return client

    return build
