"""Imports are inspected before parsing (ismsapp/inspection.py): hostile spreadsheets are refused
with the limit named, and peak memory stays within the stated bound (measured in a subprocess)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from ismsapp.inspection import InspectionError, Limits, inspect_csv, inspect_xlsx
from risks.models import Asset
from risks.services.imports import import_assets

ROOT = Path(__file__).resolve().parents[2]
HOSTILE_BOUND = 16 * 1024 * 1024  # bytes over the baseline while refusing a hostile file
ACCEPTED_BOUND = 128 * 1024 * 1024  # bytes over the baseline for the largest accepted import


def workbook_zip(sheet_xml: bytes, shared_strings: bytes | None = None) -> bytes:
    """A minimal XLSX package around one worksheet (and a shared-strings table)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Target="xl/workbook.xml" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
            "</Relationships>",
        )
        archive.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
            "</Relationships>",
        )
        archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        if shared_strings is not None:
            archive.writestr("xl/sharedStrings.xml", shared_strings)
    return buffer.getvalue()


SHEET_HEAD = (
    b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_TAIL = b"</sheetData></worksheet>"


def many_cells(rows: int, per_row: int) -> bytes:
    row = b"<row>" + b'<c t="n"><v>1</v></c>' * per_row + b"</row>"
    return workbook_zip(SHEET_HEAD + row * rows + SHEET_TAIL)


def one_huge_string(length: int) -> bytes:
    sheet = SHEET_HEAD + b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>' + SHEET_TAIL
    strings = b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
    return workbook_zip(sheet, strings + b"A" * length + b"</t></si></sst>")


def refusal(content: bytes, bounds: Limits) -> str:
    with pytest.raises(InspectionError) as refused:
        inspect_xlsx(io.BytesIO(content), bounds)
    return str(refused.value)


# --- each limit, named in the refusal -------------------------------------------------------------


def test_two_million_cells_in_a_small_file_are_refused_from_the_zip_directory() -> None:
    content = many_cells(2000, 1000)
    assert len(content) < 200_000
    message = refusal(content, Limits())
    assert message == "xl/worksheets/sheet1.xml is too large uncompressed: 42022133 bytes (the limit is 16777216)."
    lenient = Limits(max_member_bytes=10**9, max_total_bytes=10**9)
    assert "xl/worksheets/sheet1.xml is compressed too much: ratio" in refusal(content, lenient)


def test_the_cell_count_is_found_by_streaming_when_the_directory_looks_fine() -> None:
    message = refusal(many_cells(4000, 60), Limits(max_ratio=10_000))
    assert message.startswith("Too many cells: more than 200000")


def test_rows_and_cells_per_row_are_counted() -> None:
    assert "Too many rows" in refusal(many_cells(6000, 1), Limits(max_ratio=10_000))
    assert "Too many cells in one row" in refusal(many_cells(1, 65), Limits(max_ratio=10_000))


def test_one_huge_string_is_refused_by_its_declared_size_and_by_streaming() -> None:
    content = one_huge_string(50 * 1024 * 1024)
    assert len(content) < 1024 * 1024
    assert "xl/sharedStrings.xml is too large uncompressed" in refusal(content, Limits())
    lenient = Limits(max_ratio=10**9, max_member_bytes=10**9, max_total_bytes=10**9)
    assert "A string in xl/sharedStrings.xml is too long: more than 32767 characters" in refusal(content, lenient)


def test_rich_text_runs_count_as_one_string_and_other_parts_are_held_small() -> None:
    runs = b"".join(b"<r><t>" + b"x" * 1000 + b"</t></r>" for _ in range(40))
    sheet = SHEET_HEAD + b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>' + SHEET_TAIL
    content = workbook_zip(sheet, b"<sst><si>" + runs + b"</si></sst>")
    assert "A string in xl/sharedStrings.xml is too long" in refusal(content, Limits(max_ratio=10_000))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("xl/styles.xml", b"<styleSheet>" + b"<x/>" * 600_000 + b"</styleSheet>")
    assert "xl/styles.xml is too large uncompressed" in refusal(buffer.getvalue(), Limits())


def test_too_many_zip_members_and_doctypes_are_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(100):
            archive.writestr(f"part{index}.xml", b"<a/>")
    assert "Too many parts in the workbook: 100" in refusal(buffer.getvalue(), Limits())
    laughs = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">]><worksheet>&a;</worksheet>'
    assert "DOCTYPE" in refusal(workbook_zip(laughs), Limits())


def test_an_ordinary_workbook_passes_and_is_rewound() -> None:
    workbook = Workbook()
    for index in range(50):
        workbook.active.append([f"asset {index}", "service", "owner", 3, 3, 3])
    buffer = io.BytesIO()
    workbook.save(buffer)
    counts = inspect_xlsx(buffer, Limits())
    assert counts["rows"] == 50
    assert counts["cells"] == 300
    assert buffer.tell() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a\n" * 6000, "Too many rows: more than 5001"),
        (b",".join([b"x"] * 100) + b"\n", "Too many fields on line 1: 100"),
        (b"name\n" + b"x" * 40_000 + b"\n", "A field on line 2 is too long: 40000 characters"),
        (b'name\n"' + b"x" * 200_000 + b'"\n', "A field is too long"),
        (b"name\n\xff\xfe\n", "not UTF-8"),
    ],
)
def test_csv_limits_are_named(content: bytes, message: str) -> None:
    with pytest.raises(InspectionError, match=message):
        inspect_csv(io.BytesIO(content), Limits())


@pytest.mark.django_db
def test_a_nul_in_a_csv_cell_is_reported_on_its_row_and_column(compliance_officer) -> None:
    csv = (
        "name,asset_type,owner,confidentiality,integrity,availability,location,description\n"
        "Web,service,compliance_officer,3,3,3,Room\x001,ok\n"
        "Mail,service,compliance_officer,3,3,3,,two\nlines\x01\n"
    )
    report = import_assets(actor=compliance_officer, upload=SimpleUploadedFile("a.csv", csv.encode()))
    assert [(e.row, e.field, e.message) for e in report.errors][:1] == [
        (2, "location", "contains a control character (U+0000) at position 4")
    ]
    assert not Asset.objects.exists()


@pytest.mark.django_db
def test_an_import_page_refuses_a_hostile_sheet_with_the_reason(client_for) -> None:
    from django.urls import reverse

    response = client_for("compliance_officer").post(
        reverse("risks:import", args=["risks"]),
        {"file": SimpleUploadedFile("risks.xlsx", many_cells(2000, 1000))},
    )
    assert response.status_code == 400
    assert "too large uncompressed" in response.content.decode()


# --- peak memory, measured in a subprocess --------------------------------------------------------

MEASURE = r"""
import json, os, resource, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ismsapp.settings.test")
import django
django.setup()
from risks.services.imports import FileError, read_rows


def status(field):  # kB, from /proc/self/status (ru_maxrss would carry the forking parent's peak)
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])


path, name = sys.argv[1], sys.argv[2]
rows, message = 0, ""
handle = open(path, "rb")
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # reset the peak (VmHWM) to the resident size now
baseline = status("VmRSS")
# Old code ate gigabytes on these files: cap the address space so a regression fails, not the machine
limit = status("VmSize") * 1024 + 1024**3
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    for _ in read_rows(handle, name):
        rows += 1
except FileError as exc:
    message = str(exc)
except MemoryError:
    message = "MemoryError"
print(json.dumps({"rows": rows, "message": message, "delta": (status("VmHWM") - baseline) * 1024}))
"""


def measured(tmp_path: Path, name: str, content: bytes, **limits: int) -> dict:
    """Read ``content`` as the import does, in a fresh process; ``limits`` override settings
    (``max_ratio=...`` -> ``ISMS_IMPORT_MAX_RATIO``)."""
    path = tmp_path / name
    path.write_bytes(content)
    env = {**os.environ, **{f"ISMS_IMPORT_{key.upper()}": str(value) for key, value in limits.items()}}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), name], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


LENIENT = {"max_ratio": 10**9, "max_member_bytes": 10**9, "max_total_bytes": 10**9}


@pytest.mark.parametrize(
    ("name", "build", "limits", "reason"),
    [
        ("cells.xlsx", lambda: many_cells(2000, 1000), {}, "too large uncompressed"),
        ("string.xlsx", lambda: one_huge_string(50 * 1024 * 1024), {}, "too large uncompressed"),
        # the zip directory let through: the streamed scan alone refuses, still within the bound
        ("cells.xlsx", lambda: many_cells(2000, 1000), LENIENT, "Too many cells in one row"),
        ("cells.xlsx", lambda: many_cells(100_000, 1), LENIENT, "Too many rows"),
        ("string.xlsx", lambda: one_huge_string(50 * 1024 * 1024), LENIENT, "is too long"),
    ],
)
def test_hostile_sheets_are_refused_within_the_memory_bound(
    tmp_path: Path, name: str, build, limits: dict, reason: str
) -> None:
    result = measured(tmp_path, name, build(), **limits)
    assert reason in result["message"]
    assert result["rows"] == 0
    assert result["delta"] < HOSTILE_BOUND, f"{result['delta'] / 2**20:.1f} MiB over the baseline"


def test_the_largest_accepted_import_stays_within_the_memory_bound(tmp_path: Path) -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([f"column {index}" for index in range(15)])
    for row in range(5000):
        sheet.append([f"risk {row} text {index} " + "x" * 40 for index in range(15)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = measured(tmp_path, "large.xlsx", buffer.getvalue())
    assert result["message"] == ""
    assert result["rows"] == 5000
    assert result["delta"] < ACCEPTED_BOUND, f"{result['delta'] / 2**20:.1f} MiB over the baseline"
