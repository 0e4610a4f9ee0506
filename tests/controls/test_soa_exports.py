"""SoA exports in depth: every control id exactly once, published values (not the later draft),
formula neutralisation in CSV and XLSX, the PDF cover and page numbers, diffs between versions.

Rows of the CSV/XLSX are selected by their control id *and* title, so clause rows (or other rows
that may be added to the exports) neither satisfy nor disturb the checks.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook
from pypdf import PdfReader
from rest_framework.test import APIClient

from controls import services
from controls.models import Control, SoAEntry
from controls.reports import soa_csv, soa_pdf, soa_view_for, soa_xlsx
from ismsapp import services as isms_services
from ismsapp.models import User
from tests.controls.edits import edit_entry, soa_entry

pytestmark = pytest.mark.django_db

# One control per edition whose id is a prefix of other ids ("5.1" / "5.10".."5.19"; "A.5.1.1").
TARGET = {"2022": "5.1", "2013": "A.5.1.1"}


def entry(ref: str, edition: str = "2022") -> SoAEntry:
    return SoAEntry.objects.get(control__edition=edition, control__ref=ref)


def edit(actor: User, ref: str, edition: str = "2022", **changes) -> SoAEntry:
    """Save one row through the service, keeping what ``changes`` does not mention."""
    return edit_entry(actor, soa_entry(edition, ref), **changes)


def publish(actor: User, edition: str, approver: User, approved_on: date):
    return services.publish_soa(actor=actor, edition=edition, approver=approver, approved_on=approved_on)


def controls_of(edition: str) -> dict[str, str]:
    """ref -> title of every control of the edition, in catalogue order."""
    return dict(Control.objects.filter(edition=edition).order_by("position").values_list("ref", "title"))


def control_rows(records: list[dict], edition: str) -> dict[str, dict]:
    """The export's control rows by id; fails if a control is missing or appears twice."""
    expected = controls_of(edition)
    matching = [r for r in records if expected.get(r["Control"]) == r["Title"]]
    counts = Counter(r["Control"] for r in matching)
    assert set(counts) == set(expected), sorted(set(expected) ^ set(counts))
    assert [ref for ref, n in counts.items() if n != 1] == []
    return {r["Control"]: r for r in matching}


def csv_records(content: bytes) -> list[dict]:
    text = content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def xlsx_records(content: bytes, sheet_name: str | None = None) -> list[dict]:
    workbook = load_workbook(io.BytesIO(content))
    sheet = workbook[sheet_name] if sheet_name else workbook.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    return [dict(zip(header, ("" if v is None else v for v in row), strict=False)) for row in rows[1:]]


def pdf_text(content: bytes) -> tuple[str, PdfReader]:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages), reader


def assert_pdf_lists_every_control(text: str, edition: str) -> None:
    """Each control's table row starts with its id followed by the first word of its title, so
    "5.1 Policies" is not satisfied by "5.10 Acceptable" nor by clause "5.1 Leadership"."""
    first_word = re.compile(r"\w+")
    missing = [
        ref
        for ref, title in controls_of(edition).items()
        if not re.search(rf"(?m)^{re.escape(ref)} {first_word.match(title).group()}\b", text)
    ]
    assert missing == []


def export(tmp_path: Path, edition: str, fmt: str, version: int | None) -> bytes:
    out = tmp_path / f"soa-{edition}-{version or 'draft'}.{fmt}"
    args = ["export_soa", "--edition", edition, "--format", fmt, "--out", str(out)]
    if version is not None:
        args += ["--version", str(version)]
    stdout = io.StringIO()
    call_command(*args, stdout=stdout)
    assert f"{len(controls_of(edition))} controls" in stdout.getvalue()
    return out.read_bytes()


@pytest.mark.parametrize("edition", ["2022", "2013"])
def test_export_command_writes_the_published_version_not_the_later_draft(
    catalogue, tmp_path, compliance_officer, risk_owner, internal_auditor, edition
) -> None:
    ref = TARGET[edition]
    edit(
        compliance_officer,
        ref,
        edition,
        applicable=False,
        inclusion_reasons=[],
        justification="Publishedjustification",
        implementation_status="planned",
        owner=risk_owner,
        implementation_notes="Publishednotes",
    )
    publish(compliance_officer, edition, compliance_officer, date(2026, 1, 5))
    edit(
        compliance_officer,
        ref,
        edition,
        applicable=True,
        inclusion_reasons=["contractual"],
        justification="Draftjustification",
        implementation_status="implemented",
        owner=internal_auditor,
        implementation_notes="Draftnotes",
    )
    published = {"Applicable": "No", "Justification": "Publishedjustification", "Implementation status": "Planned"}
    published |= {"Owner": "Risk Owner", "Implementation notes": "Publishednotes", "Inclusion reasons": ""}
    draft = {"Applicable": "Yes", "Justification": "Draftjustification", "Implementation status": "Implemented"}
    draft |= {"Owner": "Internal Auditor", "Implementation notes": "Draftnotes", "Inclusion reasons": "Contractual"}
    untouched = {"Applicable": "Yes", "Justification": "", "Implementation status": "Not started", "Owner": ""}

    for version, expected in ((1, published), (None, draft)):
        for records in (
            csv_records(export(tmp_path, edition, "csv", version)),
            xlsx_records(export(tmp_path, edition, "xlsx", version)),
        ):
            rows = control_rows(records, edition)
            assert {key: rows[ref][key] for key in expected} == expected
            others = [r for other, r in rows.items() if other != ref]
            assert all({key: r[key] for key in untouched} == untouched for r in others)

        text, _ = pdf_text(export(tmp_path, edition, "pdf", version))
        assert_pdf_lists_every_control(text, edition)
        flat = " ".join(text.split())
        shown, hidden = ("Published", "Draft") if version else ("Draft", "Published")
        assert f"{shown}justification" in flat
        assert f"{shown}notes" in flat
        assert f"{hidden}justification" not in flat
        assert f"{hidden}notes" not in flat
        assert ("Risk Owner" in flat) == bool(version)
        assert ("Internal Auditor" in flat) == (not version)


def test_xlsx_sheets_of_the_selected_version_and_the_draft_hold_their_own_values(
    catalogue, compliance_officer, risk_owner
) -> None:
    edit(compliance_officer, "8.15", implementation_notes="v1 notes", owner=risk_owner)
    publish(compliance_officer, "2022", compliance_officer, date(2026, 1, 5))
    edit(compliance_officer, "8.15", implementation_notes="draft notes", owner=None)
    content = soa_xlsx("2022", soa_view_for("2022", 1))
    assert load_workbook(io.BytesIO(content)).sheetnames == [
        "Version 1",
        "Clauses v1",
        "Working draft",
        "Clauses draft",
    ]
    v1 = control_rows(xlsx_records(content, "Version 1"), "2022")["8.15"]
    draft = control_rows(xlsx_records(content, "Working draft"), "2022")["8.15"]
    assert (v1["Implementation notes"], v1["Owner"]) == ("v1 notes", "Risk Owner")
    assert (draft["Implementation notes"], draft["Owner"]) == ("draft notes", "")


PREFIXES = ["=", "+", "-", "@", "\t", "\r"]
HOSTILE_REFS = ["5.1", "5.2", "5.3", "5.4", "5.5", "5.6"]


@pytest.fixture
def hostile_draft(catalogue, compliance_officer) -> dict[str, dict[str, str]]:
    """Rows whose justification, notes and owner name start with a formula prefix.

    The service strips surrounding whitespace, so the tab/CR cases are written directly, as data
    imported from elsewhere could be; the owner's name cannot start with whitespace (it is stripped)."""
    expected: dict[str, dict[str, str]] = {}
    for index, (prefix, ref) in enumerate(zip(PREFIXES, HOSTILE_REFS, strict=True)):
        values = {
            "Justification": f'{prefix}HYPERLINK("http://x.invalid","{index}")',
            "Implementation notes": f"{prefix}cmd|' /C calc'!A{index}",
        }
        changes = {"justification": values["Justification"], "implementation_notes": values["Implementation notes"]}
        if not prefix.isspace():
            owner = isms_services.create_user(
                actor=None,
                username=f"owner{index}",
                password="A-long-enough-passphrase-7",
                first_name=f"{prefix}1+1",
            )
            changes["owner"] = owner
            values["Owner"] = f"{prefix}1+1"
        SoAEntry.objects.filter(pk=entry(ref).pk).update(**changes)
        expected[ref] = values
    return expected


def test_csv_neutralises_every_formula_prefix(hostile_draft) -> None:
    rows = control_rows(csv_records(soa_csv(soa_view_for("2022", None))), "2022")
    for ref, values in hostile_draft.items():
        for column, value in values.items():
            assert rows[ref][column] == "'" + value, (ref, column)
    for row in rows.values():
        for column in ("Justification", "Implementation notes", "Owner"):
            assert not row[column].startswith(tuple(PREFIXES)), (row["Control"], column)


def test_xlsx_neutralises_every_formula_prefix_and_holds_no_formula(hostile_draft, compliance_officer) -> None:
    publish(compliance_officer, "2022", compliance_officer, date(2026, 1, 5))  # a version sheet too
    content = soa_xlsx("2022", soa_view_for("2022", None))
    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["Working draft", "Clauses draft", "Version 1", "Clauses v1"]
    formulas = [
        f"{sheet.title}!{cell.coordinate}"
        for sheet in workbook.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if cell.data_type == "f"
    ]
    assert formulas == []
    for sheet in [name for name in workbook.sheetnames if not name.startswith("Clauses")]:
        rows = control_rows(xlsx_records(content, sheet), "2022")
        for ref, values in hostile_draft.items():
            for column, value in values.items():
                cell = rows[ref][column]
                # XML turns a raw carriage return into a line feed; the apostrophe stays first.
                assert cell.replace("\n", "\r") == "'" + value or cell == "'" + value, (sheet, ref, column, cell)


def test_pdf_cover_shows_the_published_version_and_the_real_page_count(
    catalogue, compliance_officer, risk_owner, isms_admin
) -> None:
    isms_services.save_organisation(actor=isms_admin, name="Acme Widgets Ltd")
    publish(compliance_officer, "2022", isms_admin, date(2026, 1, 5))
    publish(compliance_officer, "2022", risk_owner, date(2026, 2, 17))
    _, reader = pdf_text(soa_pdf(soa_view_for("2022", 2)))
    pages = len(reader.pages)
    assert pages > 2
    cover = reader.pages[0].extract_text()
    assert "Acme Widgets Ltd" in cover
    assert "ISO/IEC 27001:2022" in cover
    assert re.search(r"(?m)^Version 2$", cover)
    assert re.search(r"(?m)^Approved by Risk Owner$", cover)
    assert re.search(r"(?m)^Approval date 2026-02-17$", cover)
    assert "Isms Admin" not in cover  # the approver of version 1
    assert re.search(rf"Page 1 of {pages}\s*$", cover)
    for number, page in enumerate(reader.pages, start=1):
        assert f"Page {number} of {pages}" in page.extract_text()


def test_pdf_cover_of_the_draft_says_it_is_not_approved(catalogue, compliance_officer) -> None:
    publish(compliance_officer, "2013", compliance_officer, date(2026, 1, 5))
    text, reader = pdf_text(soa_pdf(soa_view_for("2013", None)))
    cover = reader.pages[0].extract_text()
    assert "ISO/IEC 27001:2013" in cover
    assert "Working draft (not approved)" in cover
    assert "Approved by" not in cover
    assert_pdf_lists_every_control(text, "2013")


@pytest.fixture
def two_versions(catalogue, compliance_officer, risk_owner) -> None:
    """Version 1 and version 2 differ on 5.1, 7.4, 8.15 and 6.3; the draft then changes 5.2 too."""
    edit(compliance_officer, "7.4", inclusion_reasons=["contractual"])
    edit(compliance_officer, "8.15", implementation_status="planned")
    publish(compliance_officer, "2022", compliance_officer, date(2026, 1, 5))
    edit(compliance_officer, "5.1", implementation_status="implemented")
    edit(compliance_officer, "6.3", owner=risk_owner)
    edit(compliance_officer, "7.4", applicable=False, inclusion_reasons=[], justification="No premises")
    edit(compliance_officer, "8.15", implementation_notes="Central SIEM")
    publish(compliance_officer, "2022", compliance_officer, date(2026, 1, 6))
    edit(compliance_officer, "5.2", implementation_status="planned")  # only in the draft


V1_TO_V2 = [
    {"kind": "control", "ref": "5.1", "title": "Policies for information security"}
    | {"changes": {"implementation_status": ["not_started", "implemented"]}},
    {"kind": "control", "ref": "6.3", "title": "Information security awareness, education and training"}
    | {"changes": {"owner": ["", "risk_owner"]}},
    {"kind": "control", "ref": "7.4", "title": "Physical security monitoring"}
    | {
        "changes": {
            "applicable": [True, False],
            "inclusion_reasons": [["contractual"], []],
            "justification": ["", "No premises"],
        }
    },
    {"kind": "control", "ref": "8.15", "title": "Logging"}
    | {"changes": {"implementation_notes": ["", "Central SIEM"]}},
]


def test_api_diff_between_two_published_versions(two_versions, internal_auditor) -> None:
    client = APIClient()
    client.force_authenticate(internal_auditor)
    forward = client.get("/api/soa-versions/diff/", {"edition": "2022", "from_version": "1", "to_version": "2"})
    assert forward.status_code == 200
    assert forward.json() == V1_TO_V2
    backward = client.get("/api/soa-versions/diff/", {"edition": "2022", "from_version": "2", "to_version": "1"})
    assert backward.json() == [
        change | {"changes": {name: values[::-1] for name, values in change["changes"].items()}} for change in V1_TO_V2
    ]
    same = client.get("/api/soa-versions/diff/", {"edition": "2022", "from_version": "2", "to_version": "2"})
    assert same.json() == []
    to_draft = client.get("/api/soa-versions/diff/", {"edition": "2022", "from_version": "2", "to_version": "draft"})
    assert [change["ref"] for change in to_draft.json()] == ["5.2"]


def test_diff_page_between_two_published_versions(two_versions, client_for) -> None:
    response = client_for("internal_auditor").get(reverse("controls:soa_diff", args=["2022"]), {"from": 1, "to": 2})
    assert response.status_code == 200
    assert [(c.kind, c.ref) for c in response.context["changes"]] == [("control", c["ref"]) for c in V1_TO_V2]
    html = response.content.decode()
    assert "4 rows changed from <strong>Version 1</strong> to <strong>Version 2</strong>" in html
    assert re.findall(r'<th scope="row" rowspan="\d+">([^<]+)</th>', html) == ["5.1", "6.3", "7.4", "8.15"]
    cells = re.findall(r'<td>(\w+)</td><td class="text before">([^<]*)</td><td class="text after">([^<]*)</td>', html)
    for expected in (
        ("implementation_status", "not_started", "implemented"),
        ("owner", "", "risk_owner"),
        ("applicable", "True", "False"),
        ("justification", "", "No premises"),
        ("implementation_notes", "", "Central SIEM"),
    ):
        assert expected in cells
    assert "5.2" not in re.findall(r'<th scope="row"[^>]*>([^<]+)</th>', html)
