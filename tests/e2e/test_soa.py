"""The SoA page in Chromium: in-place editing, keyboard use, edit conflicts, publishing and the PDF."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from controls.models import Control, SoAEntry
from tests.conftest import PASSWORD, make_persona

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]


def pdf_text(path: Path) -> str:
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    from pypdf import PdfReader

    return "".join(page.extract_text() for page in PdfReader(path).pages)


def ref_in(ref: str, text: str) -> bool:
    """``ref`` occurs as a whole control id: "5.10" or "15.1" do not count as "5.1"."""
    return re.search(rf"(?<![\d.]){re.escape(ref)}(?!\d)", text) is not None


def test_ref_in_matches_whole_control_ids_only() -> None:
    assert ref_in("5.1", "5.1 Policies")
    assert ref_in("5.1", "x 5.1")
    assert not ref_in("5.1", "5.10 Inventory 15.1 A.5.1")


def log_in(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def row_selector(ref: str) -> str:
    return "tr#control-" + ref.replace(".", "\\.")


def open_soa(page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Statement of Applicability").click()
    expect(page.locator(row_selector("5.1"))).to_be_visible()


def mark_document(page) -> None:
    """A full navigation would drop this marker; an htmx swap keeps it."""
    page.evaluate("window.__noReload = 1")


def assert_not_reloaded(page, url: str) -> None:
    assert page.evaluate("window.__noReload") == 1, "the page was reloaded"
    assert page.url == url


def entry(ref: str, edition: str = "2022") -> SoAEntry:
    return SoAEntry.objects.select_related("updated_by").get(control__edition=edition, control__ref=ref)


def test_exclude_publish_and_download_pdf(page, catalogue, celery_worker_process, tmp_path) -> None:
    worker = celery_worker_process(settings.CELERY_TASK_DEFAULT_QUEUE)  # renders the PDF
    make_persona("compliance_officer")
    log_in(page, "compliance_officer")

    open_soa(page)
    url = page.url
    neighbours = {ref: page.locator(row_selector(ref)) for ref in ("7.4", "7.6")}
    before = {ref: row.inner_text() for ref, row in neighbours.items()}
    mark_document(page)

    row = page.locator(row_selector("7.5"))
    edit_button = row.get_by_role("link", name="Edit")
    edit_button.click()
    editing = page.locator(row_selector("7.5") + ".editing")
    expect(editing).to_be_visible()
    editing.get_by_label("Applicability").select_option("no")
    editing.get_by_role("button", name="Save").click()
    # Excluding without a justification is refused in place, naming the field.
    expect(editing.get_by_role("alert").first).to_contain_text("Justification: A written justification is required")
    assert entry("7.5").applicable is True  # nothing saved
    editing.get_by_label("Justification").fill("Everything runs in a certified cloud region; no own premises.")
    editing.get_by_role("button", name="Save").click()
    expect(page.locator(row_selector("7.5") + ":not(.editing)")).to_be_visible()
    expect(row).to_contain_text("Excluded")
    expect(row.get_by_role("link", name="Edit")).to_be_focused()  # focus back on the row's Edit button

    # Saved in place: same document, same URL, the other rows as they were, only one row touched.
    assert_not_reloaded(page, url)
    assert {ref: r.inner_text() for ref, r in neighbours.items()} == before
    expect(page.locator("tr.editing")).to_have_count(0)
    saved = entry("7.5")
    assert (saved.applicable, saved.row_version) == (False, 1)
    assert list(SoAEntry.objects.filter(row_version__gt=0).values_list("control__ref", flat=True)) == ["7.5"]

    page.reload()
    assert page.evaluate("window.__noReload") is None  # the marker does detect a reload
    expect(row).to_contain_text("Excluded")
    expect(row).to_contain_text("certified cloud region")

    page.get_by_role("link", name="Versions and publishing").click()
    page.get_by_label("Approver").select_option(label="Compliance Officer")
    page.get_by_label("Approval date").fill("2026-11-20")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_contain_text("Version 1 of the 2022 SoA published")

    page.get_by_role("link", name="Version 1").first.click()
    expect(page.locator("main")).to_contain_text("Published version 1")
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
    refs = list(Control.objects.filter(edition="2022").values_list("ref", flat=True))
    assert len(refs) == 93
    missing = [ref for ref in refs if not ref_in(ref, text)]
    assert not missing, missing
    unexpected = [e for e in page.console_errors if "status of 400" not in e]  # the refused save above
    assert unexpected == [], unexpected
    worker.stop()


def test_keyboard_autofocus_escape_and_focus_return(page, catalogue, compliance_officer) -> None:
    log_in(page, "compliance_officer")
    open_soa(page)
    url = page.url
    mark_document(page)
    row = page.locator(row_selector("5.1"))
    before = row.inner_text()

    # Opening the row puts the keyboard in its first field.
    row.get_by_role("link", name="Edit").focus()
    page.keyboard.press("Enter")
    editing = page.locator(row_selector("5.1") + ".editing")
    expect(editing.get_by_label("Applicability")).to_be_focused()

    # Escape cancels: the read-only row is back, nothing saved, focus on the row's Edit button.
    editing.get_by_label("Implementation status").select_option("implemented")
    editing.get_by_label("Implementation notes").fill("Typed, then abandoned.")
    page.keyboard.press("Escape")
    expect(editing).to_have_count(0)
    expect(row).to_have_text(before)
    expect(row.get_by_role("link", name="Edit")).to_be_focused()
    assert_not_reloaded(page, url)
    cancelled = entry("5.1")
    assert (cancelled.implementation_status, cancelled.implementation_notes, cancelled.row_version) == (
        "not_started",
        "",
        0,
    )

    # Saving from the keyboard: Enter on the focused Save button; focus returns to Edit.
    page.keyboard.press("Enter")
    expect(editing.get_by_label("Applicability")).to_be_focused()
    editing.get_by_label("Implementation status").select_option("planned")
    editing.get_by_role("button", name="Save").focus()
    page.keyboard.press("Enter")
    expect(editing).to_have_count(0)
    expect(row).to_contain_text("Planned")
    expect(row.get_by_role("link", name="Edit")).to_be_focused()
    assert_not_reloaded(page, url)

    page.reload()
    expect(row).to_contain_text("Planned")
    assert "Typed, then abandoned." not in row.inner_text()
    assert entry("5.1").implementation_status == "planned"
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_conflicting_edit_is_refused_in_the_browser(
    browser, live_server, page, catalogue, compliance_officer, second_officer
) -> None:
    log_in(page, "compliance_officer")
    open_soa(page)
    url = page.url
    mark_document(page)
    row = page.locator(row_selector("5.2"))
    row.get_by_role("link", name="Edit").click()
    editing = page.locator(row_selector("5.2") + ".editing")
    editing.get_by_label("Implementation status").select_option("planned")

    # Meanwhile the second compliance officer saves the same row in their own browser session.
    other_context = browser.new_context(base_url=live_server.url)
    try:
        other = other_context.new_page()
        log_in(other, "second_officer")
        open_soa(other)
        other_row = other.locator(row_selector("5.2"))
        other_row.get_by_role("link", name="Edit").click()
        other_editing = other.locator(row_selector("5.2") + ".editing")
        other_editing.get_by_label("Implementation status").select_option("implemented")
        other_editing.get_by_label("Implementation notes").fill("Roles assigned by the board on 3 March.")
        other_editing.get_by_role("button", name="Save").click()
        expect(other.locator(row_selector("5.2") + ":not(.editing)")).to_contain_text("Implemented")
    finally:
        other_context.close()
    assert entry("5.2").row_version == 1

    # The first officer's stale save is refused with a clear message, in place, showing their version.
    editing.get_by_role("button", name="Save").click()
    alert = editing.get_by_role("alert")
    expect(alert).to_contain_text("Not saved: second_officer changed this row")
    expect(alert).to_contain_text("re-apply your change if it is still needed")
    expect(editing.get_by_label("Implementation status")).to_have_value("implemented")
    expect(editing.get_by_label("Implementation notes")).to_have_value("Roles assigned by the board on 3 March.")
    assert_not_reloaded(page, url)
    current = entry("5.2")
    assert (current.implementation_status, current.updated_by.username, current.row_version) == (
        "implemented",
        "second_officer",
        1,
    )

    page.reload()
    expect(row).to_contain_text("Implemented")
    assert entry("5.2").implementation_notes == "Roles assigned by the board on 3 March."
    unexpected = [e for e in page.console_errors if "status of 409" not in e]  # the refused save above
    assert unexpected == [], unexpected
