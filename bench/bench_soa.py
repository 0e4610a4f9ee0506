"""SoA page (both editions), SoA PDF render time and peak memory, XLSX export time."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.harness import ROOT, emit, percentiles, time_requests

REQUESTS = 100

RENDER_SNIPPET = """
import os, resource, sys, time
import django
django.setup()
from controls.reports import soa_pdf, soa_view_for
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
first = elapsed = 0.0
pdf = b""
if sys.argv[1] == "render":
    # The first render in a process also loads WeasyPrint and its fonts (once per worker); the
    # second is what a running worker spends on each PDF.
    for attempt in range(2):
        start = time.perf_counter()
        pdf = soa_pdf(soa_view_for(sys.argv[2], None))
        elapsed = time.perf_counter() - start
        first = first or elapsed
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(elapsed, before, peak, len(pdf), first)
"""


def _fill_soa(officer) -> None:
    from controls import services
    from controls.models import SoAEntry

    for index, entry in enumerate(SoAEntry.objects.select_related("control")):
        services.update_soa_entry(
            actor=officer,
            entry=entry,
            expected_version=entry.row_version,
            applicable=index % 9 != 0,
            inclusion_reasons=["risk_treatment", "contractual"][: 1 + index % 2],
            justification="Justification text explaining the decision for auditors. " * (1 + index % 3),
            implementation_status=["implemented", "planned", "partially_implemented", "not_started"][index % 4],
            owner=officer,
            implementation_notes="Notes on how the control is implemented and evidenced. " * 2,
        )


def render_in_child(snippet: str, *args: str) -> tuple[float, int, int, int, float]:
    """Run ``snippet`` in a fresh Python on the bench database: (seconds, RSS before, peak RSS KiB,
    bytes, seconds of the first render in the process when the snippet renders twice)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    url = (
        f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
        if "postgresql" in database["ENGINE"]
        else f"sqlite:///{database['NAME']}"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ismsapp.settings.base", "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    result = subprocess.run(
        [sys.executable, "-c", snippet, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed, before, peak, size, *first = result.stdout.split()
    return float(elapsed), int(before), int(peak), int(size), float(first[0] if first else elapsed)


def run() -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from controls.catalogue import load_catalogue
    from controls.reports import soa_view_for, soa_xlsx
    from ismsapp import services
    from ismsapp.roles import Role

    load_catalogue()
    officer = services.create_user(
        actor=None, username="bench-officer", password="Bench-passphrase-123", roles=[Role.COMPLIANCE_OFFICER]
    )
    _fill_soa(officer)
    client = Client()
    client.force_login(officer)
    baseline = time_requests(lambda: client.get("/health/"), REQUESTS)
    emit("baseline_health_p50", percentiles(baseline)[0], "ms")
    queries = {}
    for edition in ("2022", "2013"):
        url = f"/controls/{edition}/soa/"
        samples = time_requests(lambda url=url: client.get(url), REQUESTS)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        p50, p95 = percentiles(samples)
        queries[edition] = len(captured)
        emit(f"soa_page_{edition}_p50", p50, "ms")
        emit(f"soa_page_{edition}_p95", p95, "ms")
        emit(f"soa_page_{edition}_sql_queries", len(captured), "queries")
    emit("soa_page_query_count_equal_for_93_and_114_rows", int(queries["2022"] == queries["2013"]), "bool")

    connection.close()  # the child processes read the same database
    for edition in ("2022", "2013"):
        timings = [render_in_child(RENDER_SNIPPET, "render", edition) for _ in range(3)]
        elapsed = sorted(t[0] for t in timings)[1]
        _, _, base_peak, _, _ = render_in_child(RENDER_SNIPPET, "baseline", edition)
        peak = max(t[2] for t in timings)
        emit(f"soa_pdf_{edition}_render_time", elapsed, "s")
        emit(f"soa_pdf_{edition}_first_render_in_process", sorted(t[4] for t in timings)[1], "s")
        emit(f"soa_pdf_{edition}_peak_rss", peak / 1024, "MB")
        emit(f"soa_pdf_{edition}_rss_above_startup", (peak - base_peak) / 1024, "MB")
        emit(f"soa_pdf_{edition}_size", timings[0][3] / 1024, "KiB")

    view = soa_view_for("2022", None)
    start = time.perf_counter()
    for _ in range(5):
        content = soa_xlsx("2022", view)
    emit("soa_xlsx_2022_export_time", (time.perf_counter() - start) / 5 * 1000, "ms")
    emit("soa_xlsx_2022_size", len(content) / 1024, "KiB")
