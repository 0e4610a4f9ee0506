"""Dashboard server time over in-process requests, against the health check as a baseline."""

from __future__ import annotations

from bench.harness import emit, percentiles, time_requests

REQUESTS = 200


def run() -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from ismsapp import services
    from ismsapp.roles import Role

    admin = services.create_user(
        actor=None, username="bench-admin", password="Bench-passphrase-123", roles=[Role.ISMS_ADMIN]
    )
    for index in range(200):  # some history for the figures to count
        services.save_organisation(actor=admin, name=f"Bench Org {index}")
    client = Client()
    client.force_login(admin)

    def dashboard() -> object:
        response = client.get("/")
        assert response.status_code == 200
        return response

    baseline = time_requests(lambda: client.get("/health/"), REQUESTS)
    samples = time_requests(dashboard, REQUESTS)
    with CaptureQueriesContext(connection) as queries:
        dashboard()
    p50, p95 = percentiles(samples)
    b50, _b95 = percentiles(baseline)
    emit("dashboard_p50", p50, "ms")
    emit("dashboard_p95", p95, "ms")
    emit("dashboard_sql_queries", len(queries), "queries")
    emit("baseline_health_p50", b50, "ms")
    emit("dashboard_vs_health_p50_ratio", p50 / b50, "x")
