"""Export helpers: spreadsheet-safe cells and streamed CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
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


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """CSV text line by line (for a streaming response), every cell neutralised."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)  # BOM: spreadsheets then read UTF-8 correctly
    for row in rows:
        yield writer.writerow([neutralise_cell("" if cell is None else cell) for cell in row])
