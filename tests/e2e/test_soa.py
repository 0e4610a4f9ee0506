"""A compliance officer excludes a control, publishes the SoA and downloads its PDF, in Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from controls.models import Control
from tests.conftest import PASSWORD, make_persona

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]


def pdf_text(path: Path) -> str:
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    from pypdf import PdfReader

    return "".join(page.extract_text() for page in PdfReader(path).pages)


def log_in(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def test_exclude_publish_and_download_pdf(page, catalogue, celery_worker_process, tmp_path) -> None:
    worker = celery_worker_process(settings.CELERY_TASK_DEFAULT_QUEUE)  # renders the PDF
    make_persona("compliance_officer")
    log_in(page, "compliance_officer")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Statement of Applicability").click()
    row = page.locator("tr#control-7\\.5")
    row.get_by_role("link", name="Edit").click()
    editing = page.locator("tr#control-7\\.5.editing")
    editing.get_by_label("Applicability").select_option("no")
    editing.get_by_role("button", name="Save").click()
    # Excluding without a justification is refused in place, naming the field.
    assert "Justification: A written justification is required" in editing.get_by_role("alert").first.inner_text()
    editing.get_by_label("Justification").fill("Everything runs in a certified cloud region; no own premises.")
    editing.get_by_role("button", name="Save").click()
    page.locator("tr#control-7\\.5:not(.editing)").wait_for()
    assert "Excluded" in row.inner_text()

    page.reload()
    assert "Excluded" in row.inner_text()
    assert "certified cloud region" in row.inner_text()

    page.get_by_role("link", name="Versions and publishing").click()
    page.get_by_label("Approver").select_option(label="Compliance Officer")
    page.get_by_label("Approval date").fill("2026-11-20")
    page.get_by_role("button", name="Publish").click()
    assert "Version 1 of the 2022 SoA published" in page.get_by_role("status").inner_text()

    page.get_by_role("link", name="Version 1").first.click()
    assert "Published version 1" in page.inner_text("main")
    page.get_by_role("button", name="PDF").click()
    download_link = page.get_by_role("link", name="Download soa-2022-v1.pdf")
    download_link.wait_for(timeout=60_000)
    with page.expect_download() as info:
        download_link.click()
    target = tmp_path / "soa.pdf"
    info.value.save_as(target)
    text = " ".join(pdf_text(target).split())
    assert "Compliance Officer" in text  # approver on the cover
    assert "certified cloud region" in text
    missing = [ref for ref in Control.objects.filter(edition="2022").values_list("ref", flat=True) if ref not in text]
    assert not missing, missing
    unexpected = [e for e in page.console_errors if "status of 400" not in e]  # the refused save above
    assert unexpected == [], unexpected
    worker.stop()
