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
from typing import Any

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
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "iso27001"
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
        if item.get_closest_marker("reference") and not REFERENCE.is_dir() and not os.environ.get("CI"):
            item.add_marker(pytest.mark.skip(reason=f"../shared/reference is absent ({REFERENCE})"))


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


@pytest.fixture(autouse=True)
def _checkpoint_journal_per_test(settings: Any, tmp_path: Path) -> None:
    """Each test its own checkpoint journal: test databases come and go, a shared journal would
    remember sources they no longer have. (Worker processes keep the one their settings name.)"""
    settings.EVIDENCE_CHECKPOINT_JOURNAL = tmp_path / "evidence-checkpoints.jsonl"


@pytest.fixture
def personas(db: None) -> dict[str, object]:
    """All personas, by name."""
    return {name: make_persona(name) for name in PERSONAS}


@pytest.fixture
def compliance_officer(personas: dict) -> object:
    return personas["compliance_officer"]


@pytest.fixture
def second_officer(personas: dict) -> object:
    """Another compliance officer: two people editing the same SoA row."""
    from ismsapp import services
    from ismsapp.roles import Role

    return services.create_user(
        actor=None, username="second_officer", password=PASSWORD, roles=[Role.COMPLIANCE_OFFICER]
    )


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


def confirm_identity(client: Client, password: str = PASSWORD, otp_code: str = "") -> Client:
    """ "Confirm it's you" through the real page, so the client may take sensitive steps
    (publishing the SoA, role and MFA changes, token rotation) for the next few minutes."""
    from django.urls import reverse

    data = {"password": password, **({"otp_code": otp_code} if otp_code else {})}
    response = client.post(reverse("confirm_identity"), data)
    assert response.status_code == 302, f"confirm it's you failed ({response.status_code})"
    return client


def totp_code(device: Any, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows for ``device`` now (or ``steps_ahead`` periods later:
    django-otp refuses a code it has already accepted, as a real app's next code is new)."""
    import time

    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def client_for(personas: dict) -> Callable[[str | None], Client]:
    """``client_for("isms_admin")``: a logged-in test client; ``client_for(None)``: anonymous."""

    def build(name: str | None) -> Client:
        client = Client()
        if name is not None:
            client.force_login(personas[name])
        return client

    return build


class WorkerProcess:
    """A real Celery worker in its own process, on Redis, using the test database."""

    def __init__(self, queue: str, broker_url: str) -> None:
        import subprocess
        import sys

        from django.db import connection

        db = connection.settings_dict
        host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
        url = (
            f"postgres://{db['USER']}@{host}:{port}/{db['NAME']}"
            if connection.vendor == "postgresql"
            else f"sqlite:///{db['NAME']}"
        )
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "ismsapp.settings.base",
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "ISMS_BLOB_ROOT": str(settings.BLOB_ROOT),
            "ISMS_EVIDENCE_SIGNING_KEY": str(settings.EVIDENCE_SIGNING_KEY),
            "ISMS_EVIDENCE_CHECKPOINT_JOURNAL": str(settings.EVIDENCE_CHECKPOINT_JOURNAL),
            "CELERY_VISIBILITY_TIMEOUT": "4",  # a killed worker's task comes back quickly
        }
        self.queue, self.broker_url = queue, broker_url
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "ismsapp",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
                "-Q",
                queue,
                "-n",
                f"{queue}@%h",
            ],
            cwd=Path(__file__).resolve().parents[1],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self._wait_for("ready.", timeout=60)

    def _wait_for(self, marker: str, timeout: float) -> None:
        import select
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                line = self.process.stdout.readline()
                self.output.append(line)
                if marker in line:
                    return
        raise RuntimeError(f"worker did not print {marker!r}:\n{''.join(self.output)}")

    def send(self, task: object, *args: object, **options: object) -> None:
        from ismsapp.celery import app

        with app.connection_for_write(self.broker_url) as connection:
            task.apply_async(args=args, connection=connection, queue=self.queue, **options)  # type: ignore[attr-defined]

    def kill(self) -> None:
        """SIGKILL: the worker dies mid-task, without acknowledging or cleaning up."""
        import signal

        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except Exception:  # noqa: BLE001
                self.process.kill()
        rest = self.process.stdout.read() if self.process.stdout else ""
        return "".join(self.output) + (rest or "")


@pytest.fixture
def celery_worker_process(transactional_db: None):
    """Start real workers with ``celery_worker_process()``; all are stopped after the test."""
    import uuid

    workers: list[WorkerProcess] = []

    def start(queue: str | None = None) -> WorkerProcess:
        """A worker on ``queue`` (default: a fresh queue; use settings.CELERY_TASK_DEFAULT_QUEUE to
        consume what the app under test enqueues)."""
        worker = WorkerProcess(queue or f"test-{uuid.uuid4().hex[:12]}", settings.TEST_REDIS_URL)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def isms_admin_tx(transactional_db: None) -> object:
    """An ISMS admin committed to the database (for tests with real worker processes)."""
    return make_persona("isms_admin")


@pytest.fixture(scope="session", autouse=True)
def evidence_signing_key() -> Path:
    """A throw-away Ed25519 key for the run (the key file lives outside the database)."""
    from evidence import integrity

    integrity.create_key(integrity.key_path())
    return integrity.key_path()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the ISO/IEC 27001 catalogue once into the test database (rolled back tests keep it)."""
    from controls.catalogue import load_catalogue

    with django_db_blocker.unblock():
        load_catalogue()


@pytest.fixture
def catalogue(db: None) -> None:
    """The catalogue, reloaded if a transactional test flushed the database."""
    from controls.catalogue import load_catalogue
    from controls.models import Control

    if not Control.objects.exists():
        load_catalogue()
