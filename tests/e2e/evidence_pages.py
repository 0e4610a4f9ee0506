"""Shared set-up of the evidence browser tests: a bastion's log ingested, an internal auditor signed in."""

from __future__ import annotations

import io

from evidence import ingestion, services
from tests.conftest import PASSWORD, make_persona
from tests.evidence.test_receivers import run_queued_chunks


def auditor_with_ingested_log(page, log: bytes, width: int) -> None:
    """Ingest ``log`` for source "bastion", then sign the internal auditor in at ``width`` px."""
    admin = make_persona("isms_admin")
    make_persona("internal_auditor")
    source, _ = services.create_source(actor=admin, name="bastion", owner=admin, hosts="bastion")
    run_queued_chunks(
        ingestion.create_job(actor=None, source=source, fmt="syslog", stream=io.BytesIO(log), enqueue=False)
    )
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/login/")
    page.get_by_label("Username").fill("internal_auditor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
