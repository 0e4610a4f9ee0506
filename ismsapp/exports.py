"""Export helpers: spreadsheet-safe cells, the one XLSX sheet writer (and whole workbooks of such
sheets), and streamed CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

# What an XLSX file cannot hold: C0 controls but tab/LF/CR (openpyxl refuses them), DEL and C1
# (stored but shown as garbage), lone surrogates (cannot be encoded as UTF-8).
UNREPRESENTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
REPLACEMENT = "\ufffd"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """Stop a spreadsheet from evaluating a text cell as a formula (CSV/formula injection).

    Text starting with ``= + - @`` (or a tab/CR that some programs strip first) gets a leading
    apostrophe, which spreadsheets show as plain text. Numbers, dates and booleans pass unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def spreadsheet_cell(value: Any) -> Any:
    """A value any XLSX writer can store: formula-neutralised, and every character a spreadsheet
    cannot represent replaced by U+FFFD (so data stored before input cleaning still exports)."""
    value = neutralise_cell(value)
    if isinstance(value, str):
        return UNREPRESENTABLE.sub(REPLACEMENT, value)
    return value


def add_sheet(
    workbook: Workbook,
    title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    widths: Sequence[float] | None = None,
) -> None:
    """Append a sheet: bold header row, every cell through ``spreadsheet_cell``, frozen header,
    auto-filter over the written rows. Every XLSX export of the app writes its cells here."""
    sheet = workbook.create_sheet(spreadsheet_cell(title)[:31])
    sheet.append([spreadsheet_cell(name) for name in header])
    count = 0
    for row in rows:
        sheet.append([spreadsheet_cell(value) for value in row])
        count += 1
    for cell in sheet[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="17324F")
        cell.alignment = Alignment(vertical="top", wrap_text=True)
    for index, width in enumerate(widths or [18] * len(header), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{count + 1}"


def new_workbook() -> Workbook:
    """An empty workbook (no default sheet): fill it with ``add_sheet``."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    return workbook


def workbook_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]], *, bom: bool = True) -> Iterator[str]:
    """CSV text line by line (for a streaming response), every cell neutralised. ``bom=False``
    for a second table after the first one in the same file."""
    writer = csv.writer(_Echo())
    yield ("\ufeff" if bom else "") + writer.writerow(header)  # BOM: spreadsheets then read UTF-8 correctly
    for row in rows:
        yield writer.writerow([neutralise_cell("" if cell is None else cell) for cell in row])


@dataclass(frozen=True)
class Sheet:
    """One worksheet of ``xlsx_workbook``: its title, header and rows."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]
    widths: Sequence[int] = ()


def xlsx_workbook(sheets: Iterable[Sheet]) -> bytes:
    """An XLSX file of ``sheets``, each written by ``add_sheet`` (styled header, every cell safe)."""
    workbook = new_workbook()
    for sheet in sheets:
        rows = (["" if cell is None else cell for cell in row] for row in sheet.rows)
        add_sheet(workbook, sheet.title, sheet.header, rows, list(sheet.widths) or None)
    return workbook_bytes(workbook)
