"""Risk register page with 5,000 risks (server time, query count constant in the number of risks)
and the register PDF with 500 risks (render time, peak memory)."""

from __future__ import annotations

import random

from bench.bench_soa import render_in_child
from bench.harness import emit, percentiles, time_requests

REQUESTS = 100
PDF_SNIPPET = """
import resource, sys, time
import django
django.setup()
from ismsapp.models import User
from risks.reports import register_pdf
user = User.objects.get(username="bench-officer")
start = time.perf_counter()
pdf = register_pdf(user) if sys.argv[1] == "render" else b""
elapsed = time.perf_counter() - start
print(elapsed, 0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(pdf))
"""


def _bulk_risks(start: int, stop: int, owner, methodology) -> None:
    from risks.models import Risk

    rng = random.Random(42)
    rows = []
    for index in range(start, stop):
        li, im = rng.randint(1, 5), rng.randint(1, 5)
        rl, ri = max(1, li - rng.randint(0, 2)), max(1, im - rng.randint(0, 1))
        inherent, residual = methodology.level(li, im), methodology.level(rl, ri)
        rows.append(
            Risk(
                reference=f"B-{index:05d}",
                title=f"Benchmark risk {index}",
                owner=owner,
                methodology=methodology,
                inherent_likelihood=li,
                inherent_impact=im,
                inherent_level=inherent,
                inherent_rank=methodology.level_rank(inherent),
                treatment_option="modify",
                residual_likelihood=rl,
                residual_impact=ri,
                residual_level=residual,
                residual_rank=methodology.level_rank(residual),
                status=rng.choice(["treated", "treatment_planned", "accepted"]),
            )
        )
    Risk.objects.bulk_create(rows, batch_size=1000)


def run() -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from ismsapp import services
    from ismsapp.models import User
    from ismsapp.roles import Role
    from risks.models import Risk
    from risks.services import current_methodology

    officer = User.objects.filter(username="bench-officer").first() or services.create_user(
        actor=None, username="bench-officer", password="Bench-passphrase-123", roles=[Role.COMPLIANCE_OFFICER]
    )
    owner = services.create_user(
        actor=None, username="bench-owner", password="Bench-passphrase-123", roles=[Role.RISK_OWNER]
    )
    methodology = current_methodology()
    client = Client()
    client.force_login(officer)
    baseline = time_requests(lambda: client.get("/health/"), REQUESTS)
    emit("baseline_health_p50", percentiles(baseline)[0], "ms")

    queries = {}
    for total in (500, 5000):
        _bulk_risks(Risk.objects.count(), total, owner, methodology)
        samples = time_requests(lambda: client.get("/risks/?sort=-residual"), REQUESTS)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/risks/?sort=-residual").status_code == 200
        p50, p95 = percentiles(samples)
        queries[total] = len(captured)
        emit(f"risk_register_{total}_p50", p50, "ms")
        emit(f"risk_register_{total}_p95", p95, "ms")
        emit(f"risk_register_{total}_sql_queries", len(captured), "queries")
    emit("risk_register_query_count_equal_for_500_and_5000", int(queries[500] == queries[5000]), "bool")

    Risk.objects.exclude(reference__lt="B-00500").delete()  # keep 500 for the PDF
    connection.close()
    timings = [render_in_child(PDF_SNIPPET, "render") for _ in range(3)]
    baseline_rss = render_in_child(PDF_SNIPPET, "baseline")[2]
    emit("risk_register_pdf_500_render_time", sorted(t[0] for t in timings)[1], "s")
    emit("risk_register_pdf_500_peak_rss", max(t[2] for t in timings) / 1024, "MB")
    emit("risk_register_pdf_500_rss_above_startup", (max(t[2] for t in timings) - baseline_rss) / 1024, "MB")
    emit("risk_register_pdf_500_size", timings[0][3] / 1024, "KiB")
