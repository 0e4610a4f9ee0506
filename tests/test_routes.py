"""Generic permission test: every URL pattern, found by walking the resolver, is requested as
anonymous and as every persona, and the outcome is checked against its rule in ``route_rules``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import PASSWORD, PERSONAS
from tests.route_rules import NOT_AN_OBJECT_ID, PER_OBJECT_ROUTES, RULES, Rule


def build_risk_world(personas: dict) -> dict:
    """A risk owned by the risk owner, with an action and a pending acceptance above appetite;
    and the canary: the same owned by a second risk owner (``foreign_*``)."""
    from ismsapp import services as platform
    from ismsapp.roles import Role

    canary_owner = platform.create_user(actor=None, username="canary_owner", password=PASSWORD, roles=[Role.RISK_OWNER])
    own = _risk_objects(personas, personas["risk_owner"], "Route")
    foreign = _risk_objects(personas, canary_owner, "Canary")
    return {**own, **{f"foreign_{name}": value for name, value in foreign.items() if name != "asset"}}


def _risk_objects(personas: dict, owner: object, label: str) -> dict:
    from datetime import date, timedelta

    from risks import services

    officer = personas["compliance_officer"]
    asset = services.save_asset(
        actor=officer,
        name=f"{label} asset",
        asset_type="service",
        owner=officer,
        confidentiality=3,
        integrity=3,
        availability=3,
    )
    risk = services.create_risk(
        actor=officer,
        title=f"{label} risk",
        owner=owner,
        assets=[asset],
        inherent_likelihood=4,
        inherent_impact=5,
        treatment_option="modify",
        residual_likelihood=3,
        residual_impact=4,
    )
    action = services.save_action(
        actor=officer,
        risk=risk,
        description="Do it",
        owner=officer,
        due_date=date.today() + timedelta(days=10),
        status="done",
    )
    accepted = services.accept_residual_risk(
        actor=owner, risk=risk, password=PASSWORD, justification=f"Accepted for the {label.lower()} test."
    )
    return {"asset": asset, "risk": risk, "action": action, "acceptance": accepted}


def build_evidence_world(personas: dict) -> dict:
    """A source with one ingested log line and one session recording."""
    import io

    from evidence import ingestion, services
    from evidence.models import Event, SessionRecording

    source, _ = services.create_source(actor=personas["isms_admin"], name="route-source", owner=personas["isms_admin"])
    jobs = []
    for fmt, body in (
        ("syslog", b"<38>Jan  5 10:00:00 web1 sshd[42]: Accepted password for alice from 192.0.2.7 port 22 ssh2\n"),
        (
            "asciicast",
            b'{"version": 2, "width": 80, "height": 24, "timestamp": 1700000000}\n[0.5, "i", "id\\r"]\n'
            b'[0.6, "o", "uid=0(root)\\r\\n"]\n',
        ),
    ):
        job = ingestion.create_job(actor=None, source=source, fmt=fmt, stream=io.BytesIO(body), enqueue=False)
        for chunk_id in job.chunks.values_list("pk", flat=True):
            ingestion.process_chunk(chunk_id)
        jobs.append(job)
    return {
        "evidence_source": source,
        "evidence_job": jobs[0],
        "evidence_event": Event.objects.first(),
        "recording": SessionRecording.objects.get(),
    }


def discover_route_names() -> set[str]:
    def walk(patterns: list, namespace: str | None) -> Iterator[str]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = namespace
                if pattern.namespace:
                    inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
                yield from walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern):
                if pattern.name is None:
                    raise AssertionError(f"Route {pattern.pattern} has no name, so it cannot have a rule")
                yield f"{namespace}:{pattern.name}" if namespace else pattern.name

    return set(walk(get_resolver().url_patterns, None))


ROUTES = sorted(discover_route_names())


def test_every_route_has_a_rule() -> None:
    missing = sorted(set(ROUTES) - set(RULES))
    assert not missing, f"Routes without an access rule in tests/route_rules.py: {missing}"


def test_no_rule_for_a_route_that_does_not_exist() -> None:
    stale = sorted(set(RULES) - set(ROUTES))
    assert not stale, f"Rules for routes that no longer exist: {stale}"


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[dict]:
    """The personas and the objects route rules point at (one of each kind), built once for the
    module inside a transaction that is rolled back at the end; each test runs in a savepoint."""
    from datetime import date

    from django.db import transaction

    from controls.models import ClauseEntry, SoAEntry
    from controls.services import publish_soa
    from ismsapp.models import AuditEntry
    from ismsapp.services.reports import request_report
    from ismsapp.services.tokens import create_token
    from tests.audits.world import build_audits_world
    from tests.conftest import make_persona

    with django_db_blocker.unblock(), transaction.atomic():
        personas = {name: make_persona(name) for name in PERSONAS}
        officer = personas["compliance_officer"]
        risk_world = build_risk_world(personas)
        evidence_world = build_evidence_world(personas)
        audits_world = build_audits_world(personas, risk_world["risk"])
        yield {
            **audits_world,
            **risk_world,
            **evidence_world,
            "personas": personas,
            "audit_entry": AuditEntry.objects.order_by("seq").first(),
            "soa_entry": SoAEntry.objects.filter(control__edition="2022").first(),
            "clause_entry": ClauseEntry.objects.filter(clause__edition="2022").first(),
            "soa_version": publish_soa(actor=officer, edition="2022", approver=officer, approved_on=date(2026, 1, 5)),
            "api_token": create_token(actor=personas["outsider"], name="route token").token,
            "report": request_report(actor=officer, kind="soa_pdf", params={"edition": "2022", "version": "draft"}),
        }
        transaction.set_rollback(True)


def _request(client: Client, rule: Rule, world: dict, name: str, *, foreign: bool = False):
    kwargs = rule.foreign_kwargs if foreign else rule.kwargs
    url = reverse(name, kwargs=kwargs(world) if kwargs else None)
    if rule.method == "POST":
        return client.post(url, rule.data)
    return client.get(url)


def _is_login_redirect(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse(settings.LOGIN_URL))


@pytest.mark.django_db
@pytest.mark.parametrize("name", [r for r in ROUTES if r in RULES])
def test_anonymous_access(name: str, world: dict) -> None:
    rule = RULES[name]
    response = _request(Client(), rule, world, name)
    if rule.anonymous == "login":
        assert _is_login_redirect(response), f"{name}: anonymous got {response.status_code}, expected login redirect"
    elif rule.anonymous == "401":
        assert response.status_code == 401, f"{name}: anonymous got {response.status_code}, expected 401"
        assert not response["Content-Type"].startswith("text/html"), f"{name}: 401 must not be an HTML page"
    else:
        assert response.status_code <= 400, f"{name}: public route refused anonymous ({response.status_code})"
        assert not _is_login_redirect(response), f"{name}: public route sent anonymous to login"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", list(PERSONAS))
@pytest.mark.parametrize("name", [r for r in ROUTES if r in RULES])
def test_persona_access(name: str, persona: str, world: dict) -> None:
    rule = RULES[name]
    client = Client()
    client.force_login(world["personas"][persona])
    response = _request(client, rule, world, name)
    if persona in rule.allowed:
        assert response.status_code not in (401, 403, 404), f"{name}: {persona} refused ({response.status_code})"
        assert rule.ends_session or not _is_login_redirect(response), f"{name}: {persona} sent to login"
        assert response.status_code < 500
    else:
        refused = (401, 403, 404)  # 401: token-only endpoints refuse a logged-in user without the token
        assert response.status_code in refused, f"{name}: {persona} got {response.status_code}, expected refusal"


FOREIGN_ROUTES = [r for r in ROUTES if r in RULES and RULES[r].foreign_kwargs]


def test_object_scoped_personas_are_allowed_personas() -> None:
    for name, rule in RULES.items():
        assert rule.object_scoped <= rule.allowed, f"{name}: object_scoped personas must be allowed on their own"
        assert rule.foreign_kwargs or not rule.object_scoped, f"{name}: object_scoped without foreign_kwargs"


def test_every_per_object_route_with_an_id_declares_a_canary() -> None:
    missing = [
        f"{name} ({persona})"
        for persona, prefixes in PER_OBJECT_ROUTES.items()
        for name, rule in RULES.items()
        if name.startswith(prefixes)
        and rule.kwargs
        and name not in NOT_AN_OBJECT_ID
        and persona in rule.allowed
        and persona not in rule.object_scoped
    ]
    assert not missing, f"Routes taking an id without a canary for their per-object personas: {missing}"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", list(PERSONAS))
@pytest.mark.parametrize("name", FOREIGN_ROUTES)
def test_persona_access_to_a_foreign_object(name: str, persona: str, world: dict) -> None:
    """The canary: object-scoped personas get 404 on someone else's object (not 403: that would
    confirm the id exists); role-wide personas still reach it; the others stay refused."""
    rule = RULES[name]
    client = Client()
    client.force_login(world["personas"][persona])
    response = _request(client, rule, world, name, foreign=True)
    if persona in rule.object_scoped:
        assert response.status_code == 404, f"{name}: {persona} got {response.status_code} on a foreign object"
    elif persona in rule.allowed:
        assert response.status_code not in (401, 403, 404), f"{name}: {persona} refused ({response.status_code})"
        assert response.status_code < 500
    else:
        assert response.status_code in (401, 403, 404), f"{name}: {persona} got {response.status_code}"
