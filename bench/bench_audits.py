"""Audit report PDF (an audit of all 93 controls with 30 findings) against the SoA PDF of the same
run, and the nonconformity register page with 500 and 5,000 nonconformities (15,000 actions)."""

from __future__ import annotations

from datetime import date, timedelta

from bench.bench_soa import RENDER_SNIPPET as SOA_SNIPPET
from bench.bench_soa import render_in_child
from bench.harness import emit, percentiles, time_requests

REQUESTS = 100
FINDINGS = 30

REPORT_SNIPPET = SOA_SNIPPET.replace(
    "from controls.reports import soa_pdf, soa_view_for",
    "from audits.models import Audit\nfrom audits.reports import audit_report_pdf",
).replace(
    "pdf = soa_pdf(soa_view_for(sys.argv[2], None))", "pdf = audit_report_pdf(Audit.objects.get(pk=int(sys.argv[2])))"
)


def _audit_of_every_control(officer, auditor) -> int:
    from audits import services
    from audits.models import ChecklistItem
    from controls.models import Control

    programme = services.create_programme(
        actor=officer,
        title="Bench cycle",
        edition="2022",
        period_start=date(2026, 1, 1),
        period_end=date(2028, 12, 31),
        objectives="Every control.",
        owner=officer,
    )
    audit = services.create_audit(
        actor=officer,
        programme=programme,
        title="Full Annex A audit",
        criteria="ISO/IEC 27001:2022 Annex A, all 93 controls.",
        planned_start=date(2026, 3, 2),
        planned_end=date(2026, 3, 20),
        lead_auditor=auditor,
        controls=list(Control.objects.filter(edition="2022")),
    )
    audit = services.change_audit_status(actor=auditor, audit=audit, status="in_progress", on=date(2026, 3, 2))
    items = list(audit.checklist.order_by("position"))
    for index, item in enumerate(items):
        result = "minor_nc" if index < FINDINGS else ("observation" if index % 7 == 0 else "conforming")
        ChecklistItem.objects.filter(pk=item.pk).update(
            result=result, notes="Records sampled and interviews held; see the evidence links. " * 3
        )
    for item in items[:FINDINGS]:
        item.refresh_from_db()
        services.raise_nonconformity(
            actor=auditor,
            checklist_item=item,
            statement="The control is not operated as the SoA states. " * 2,
            raised_on=date(2026, 3, 10),
        )
    services.change_audit_status(actor=auditor, audit=audit, status="reporting", on=date(2026, 3, 20))
    return audit.pk


def _bulk_nonconformities(count: int, officer) -> None:
    from audits.models import CorrectiveAction, Nonconformity
    from controls.models import Control

    controls = list(Control.objects.filter(edition="2022").values_list("pk", flat=True))
    start = Nonconformity.objects.count()
    created = Nonconformity.objects.bulk_create(
        Nonconformity(
            severity="minor" if index % 4 else "major",
            source="direct",
            origin="monitoring",
            control_id=controls[index % len(controls)],
            statement=f"Bench finding {start + index}.",
            raised_on=date(2026, 1, 1) + timedelta(days=index % 300),
            raised_by=officer,
            status="open",
        )
        for index in range(count)
    )
    CorrectiveAction.objects.bulk_create(
        CorrectiveAction(
            nonconformity=nc,
            description=f"Action {step} of {nc.pk}.",
            owner=officer,
            due_date=nc.raised_on + timedelta(days=30 * (step + 1)),
        )
        for nc in created
        for step in range(3)
    )


def run() -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from controls.catalogue import load_catalogue
    from controls.models import Control
    from ismsapp import services
    from ismsapp.roles import Role

    if not Control.objects.exists():
        load_catalogue()
    officer = services.create_user(
        actor=None, username="bench-audit-officer", password="Bench-passphrase-123", roles=[Role.COMPLIANCE_OFFICER]
    )
    auditor = services.create_user(
        actor=None, username="bench-auditor", password="Bench-passphrase-123", roles=[Role.INTERNAL_AUDITOR]
    )
    audit_pk = _audit_of_every_control(officer, auditor)

    client = Client()
    client.force_login(officer)
    queries = {}
    for total in (500, 5_000):
        from audits.models import Nonconformity

        _bulk_nonconformities(total - Nonconformity.objects.filter(source="direct").count(), officer)
        samples = time_requests(lambda: client.get("/audits/nonconformities/"), REQUESTS)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/audits/nonconformities/").status_code == 200
        p50, p95 = percentiles(samples)
        queries[total] = len(captured)
        emit(f"nc_register_{total}_p50", p50, "ms")
        emit(f"nc_register_{total}_p95", p95, "ms")
        emit(f"nc_register_{total}_sql_queries", len(captured), "queries")
    emit("nc_register_query_count_equal_for_500_and_5000", int(queries[500] == queries[5_000]), "bool")

    connection.close()  # the child processes read the same database
    report = [render_in_child(REPORT_SNIPPET, "render", str(audit_pk)) for _ in range(3)]
    soa = [render_in_child(SOA_SNIPPET, "render", "2022") for _ in range(3)]
    report_time, soa_time = sorted(t[0] for t in report)[1], sorted(t[0] for t in soa)[1]
    report_peak, soa_peak = max(t[2] for t in report), max(t[2] for t in soa)
    emit("audit_report_pdf_93_controls_30_findings_render_time", report_time, "s")
    emit("audit_report_pdf_peak_rss", report_peak / 1024, "MB")
    emit("audit_report_pdf_size", report[0][3] / 1024, "KiB")
    emit("audit_report_pdf_render_time_vs_soa_pdf_2022", report_time / soa_time, "x")
    emit("audit_report_pdf_peak_rss_vs_soa_pdf_2022", report_peak / soa_peak, "x")
