"""The API does what its schema says: schema-driven fuzzing with schemathesis.

The app's own OpenAPI schema (``/api/schema/``, drf-spectacular) drives Hypothesis to generate
requests for every operation, sent in-process through the project's WSGI application as each
persona (and anonymously). Every response must be no server error (5xx), carry a documented
status code and content type, and match the documented body schema.

Bounds: ``ISMS_FUZZ_EXAMPLES`` generated examples per operation and persona (default 5), plus
as many again with the path's id pinned to a real object of the seeded world, so detail
operations serialise real rows (the push endpoint also gets its source's real token); the run
is reproducible (a fixed seed, ``ISMS_FUZZ_SEED``: the same inputs on every machine) and capped
by a timeout. Each operation runs in a savepoint rolled back after it, so a fuzzed PUT or POST
never changes what the next operation sees.

No operation is excluded, and no server error is tolerated.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections, transaction
from django.http import HttpResponse
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode, checks
from schemathesis.core.failures import FailureGroup

from tests.conftest import PERSONAS

EXAMPLES = int(os.environ.get("ISMS_FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("ISMS_FUZZ_SEED", "27001"))  # the same inputs on every run and machine
# "positive" (valid by the schema, the suite's run) or "negative" (invalid on purpose, for exploring)
MODE = GenerationMode(os.environ.get("ISMS_FUZZ_MODE", "positive"))
ONLY = os.environ.get("ISMS_FUZZ_ONLY", "")  # e.g. "POST /api/risks/": fuzz only matching operations
# Personas of tests/conftest.py that hold a role, and nobody logged in.
ROLES: list[str | None] = [name for name, role in PERSONAS.items() if role is not None] + [None]
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


class PersonaApp(WSGIHandler):
    """The project's WSGI application, as Django's test client drives it: every request is
    authenticated as ``user`` (DRF's ``force_authenticate``, so the fuzz does not depend on how
    tokens or sessions are issued) and CSRF is left to its own tests."""

    user: Any = None
    last_error: str = ""  # the exception behind the last 500, for the findings

    def get_response(self, request: WSGIRequest) -> HttpResponse:
        self.last_error = ""
        if self.user is not None:
            request._force_auth_user = self.user  # read by rest_framework.request.Request
        request._dont_enforce_csrf_checks = True
        return super().get_response(request)


@dataclass(frozen=True)
class Finding:
    persona: str
    operation: str
    check: str
    status: int
    detail: str
    request: str

    error: str = ""

    def __str__(self) -> str:
        cause = f"\n    raised {self.error}" if self.error else ""
        head = f"[{self.persona}] {self.operation}: {self.check} (HTTP {self.status})"
        return f"{head} {self.detail}\n    {self.request}{cause}"


@pytest.fixture(scope="module")
def fuzz_world(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """Personas and one object of each kind (the world of the route test), built once inside a
    transaction rolled back at the end, the schema as the API serves it, and the app."""
    from datetime import date

    from controls.models import SoAEntry
    from controls.services import publish_soa
    from evidence.services import rotate_token
    from ismsapp.models import AuditEntry
    from tests.conftest import make_persona
    from tests.test_routes import build_evidence_world, build_risk_world

    # The WSGI handler would close the connection (and so the test's transaction) per request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    app = PersonaApp()

    def remember(sender: Any, request: Any = None, **kwargs: Any) -> None:
        error = sys.exc_info()[1]
        app.last_error = f"{type(error).__name__}: {error}"[:300] if error else ""

    got_request_exception.connect(remember, weak=False)
    with django_db_blocker.unblock(), transaction.atomic():
        personas = {name: make_persona(name) for name in PERSONAS}
        officer = personas["compliance_officer"]
        world = {**build_risk_world(personas), **build_evidence_world(personas)}
        version = publish_soa(actor=officer, edition="2022", approver=officer, approved_on=date(2026, 1, 5))
        app.user = personas["isms_admin"]
        schema = schemathesis.openapi.from_wsgi("/api/schema/", app, headers={"Accept": "application/json"})
        app.user = None
        ids = {
            "/api/assets/{id}/": world["asset"].pk,
            "/api/risks/{id}/": world["risk"].pk,
            "/api/treatment-actions/{id}/": world["action"].pk,
            "/api/risk-acceptances/{id}/": world["acceptance"].pk,
            "/api/risk-methodologies/{id}/": world["risk"].methodology_id,
            "/api/evidence-sources/{id}/": world["evidence_source"].pk,
            "/api/ingestion-jobs/{id}/": world["evidence_job"].pk,
            "/api/events/{id}/": world["evidence_event"].pk,
            "/api/session-recordings/{id}/": world["recording"].pk,
            "/api/soa-entries/{id}/": SoAEntry.objects.filter(control__edition="2022").first().pk,
            "/api/soa-versions/{id}/": version.pk,
            "/api/users/{id}/": personas["risk_owner"].pk,
            "/api/controls/{id}/": SoAEntry.objects.filter(control__edition="2022").first().control_id,
            "/api/audit-entries/{seq}/": AuditEntry.objects.order_by("seq").first().seq,
            "/api/ingest/{source}/": world["evidence_source"].name,
        }
        # Pushes with the source's own token as well, so accepted pushes are checked too.
        token = rotate_token(actor=personas["isms_admin"], source=world["evidence_source"])
        headers = {"/api/ingest/{source}/": {"Authorization": f"Bearer {token}"}}
        yield {"personas": personas, "schema": schema, "app": app, "ids": ids, "headers": headers}
        transaction.set_rollback(True)
    got_request_exception.disconnect(remember)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _pinned(path: str, ids: dict[str, Any]) -> dict[str, Any] | None:
    """Path parameters naming the seeded object of this operation's resource, if it has one."""
    for prefix, value in ids.items():
        head, _, name = prefix.rpartition("{")
        if path.startswith(head) and "{" in path:
            return {name.split("}")[0]: value}
    return None


def _fuzz(
    operation: Any, persona: str, app: PersonaApp, pinned: dict[str, Any] | None, headers: dict[str, str] | None
) -> tuple[int, list[Finding]]:
    """Run the bounded examples of ``operation``; returns how many were sent and the findings."""
    findings: dict[tuple[str, str, int, str], Finding] = {}
    sent = 0

    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        response = case.call()
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, FailureGroup) as error:
            failures = getattr(error, "exceptions", None) or [error]
            for failure in failures:
                title = getattr(failure, "title", type(failure).__name__)
                key = (operation.label, title, response.status_code, app.last_error[:80])
                message = " ".join(str(getattr(failure, "message", failure)).split())[:300]
                found = Finding(
                    persona, operation.label, title, response.status_code, message, _curl(case), app.last_error
                )
                findings.setdefault(key, found)

    strategies = [operation.as_strategy(generation_mode=MODE)]
    if pinned:
        strategies.append(operation.as_strategy(generation_mode=MODE, path_parameters=pinned, headers=headers))
    for strategy in strategies:
        test = hypothesis.given(case=strategy)(run)
        test = hypothesis.settings(
            max_examples=EXAMPLES,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            verbosity=hypothesis.Verbosity.quiet,
        )(test)
        with contextlib.suppress(hypothesis.errors.Unsatisfiable):  # negative mode: nothing to make invalid
            hypothesis.seed(SEED)(test)()
    return sent, list(findings.values())


def _curl(case: Any) -> str:
    """The request, short: method, path, query and body as generated."""
    body = case.body if isinstance(case.body, (dict, list, str, int, float)) else ""
    query = f" query={case.query!r}" if case.query else ""
    return f"{case.method} {case.formatted_path}{query} {body!r}"[:400]


@pytest.mark.django_db
@pytest.mark.timeout(240)
@pytest.mark.parametrize("persona", ROLES, ids=[name or "anonymous" for name in ROLES])
def test_every_operation_answers_as_its_schema_says(persona: str | None, fuzz_world: dict) -> None:
    app: PersonaApp = fuzz_world["app"]
    app.user = fuzz_world["personas"][persona] if persona else None
    name = persona or "anonymous"
    findings: list[Finding] = []
    sent, started = 0, time.monotonic()
    try:
        operations = [result.ok() for result in fuzz_world["schema"].get_all_operations()]
        operations = [operation for operation in operations if ONLY in operation.label]
        for operation in operations:
            with transaction.atomic():
                pinned = _pinned(operation.path, fuzz_world["ids"])
                headers = fuzz_world["headers"].get(operation.path)
                count, found = _fuzz(operation, name, app, pinned, headers)
                transaction.set_rollback(True)
            sent += count
            findings.extend(found)
    finally:
        app.user = None
    print(f"\n{name}: {len(operations)} operations, {sent} requests, {time.monotonic() - started:.1f} s")
    assert not findings, f"{len(findings)} responses break the schema:\n" + "\n".join(map(str, findings))
