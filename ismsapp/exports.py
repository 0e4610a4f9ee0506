"""Export helpers: spreadsheet-safe cells, streamed CSV and plain XLSX workbooks."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """Stop a spreadsheet from evaluating a text cell as a formula (CSV/formula injection).

    Text starting with ``= + - @`` (or a tab/CR that some programs strip first) gets a leading
    apostrophe, which spreadsheets show as plain text. Numbers, dates and booleans pass unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


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
    """One worksheet of ``xlsx_workbook``: its title, header and rows (cells are neutralised)."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]
    widths: Sequence[int] = ()


def xlsx_workbook(sheets: Iterable[Sheet]) -> bytes:
    """An XLSX file with a styled, frozen, filterable header on each sheet; every cell neutralised."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in sheets:
        worksheet = workbook.create_sheet(sheet.title[:31])
        worksheet.append(list(sheet.header))
        count = 0
        for row in sheet.rows:
            worksheet.append([neutralise_cell("" if cell is None else cell) for cell in row])
            count += 1
        for cell in worksheet[1]:
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = PatternFill("solid", fgColor="17324F")
            cell.alignment = Alignment(vertical="top", wrap_text=True)
        for index in range(1, len(sheet.header) + 1):
            width = sheet.widths[index - 1] if index <= len(sheet.widths) else 18
            worksheet.column_dimensions[get_column_letter(index)].width = width
        worksheet.freeze_panes = "A2"
        worksheet.auto_filter.ref = f"A1:{get_column_letter(len(sheet.header))}{count + 1}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
