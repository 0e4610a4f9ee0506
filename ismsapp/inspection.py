"""Inspection of spreadsheet uploads before any parser builds objects from them.

An XLSX file is a zip of XML: a 100 KB upload can hold millions of cells or one string of
hundreds of megabytes, and openpyxl would build them all in memory before the import could count
anything. So before openpyxl opens a workbook, ``inspect_xlsx``:

1. reads the zip's central directory only: number of members, declared uncompressed size of each
   member and of all together, compression ratio of each member;
2. streams every XML part through expat in 64 KB pieces, with the text of each element counted,
   never accumulated: rows, cells and cells per row of the worksheets and the longest string of
   any part are counted as they go, and the scan stops at the first limit passed. A DOCTYPE
   (entity expansion) is refused outright. Bytes decompressed are counted too, whatever the
   directory says. Parts other than worksheets and shared strings (styles, relationships, which
   openpyxl parses whole) are held to a much smaller size.

``inspect_csv`` does the same for CSV in one streamed pass: bytes, rows, fields per row, longest
field (the csv module never holds one field beyond its own 128 KiB limit).

Limits are settings (``IMPORT_*``, see ``limits()``); the refusal names the limit and the value
found. **Peak memory bound**: inspection holds at most one 64 KB piece of decompressed XML plus
expat's own buffer for one start tag; an accepted file is at most ``IMPORT_XLSX_MAX_TOTAL_BYTES``
of XML with at most ``IMPORT_MAX_CELLS`` cells, which openpyxl (read-only mode) then turns into
rows one at a time plus the shared strings. Measured with the defaults: a hostile file (2,000,000
cells in 100 KB, or one 50 MB string) costs under 16 MB over the process baseline before its
refusal, and the largest accepted import stays under ``IMPORT_PEAK_MEMORY_BYTES`` (128 MB) over
baseline; ``tests/risks/test_import_inspection.py`` measures both in a subprocess.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from dataclasses import dataclass
from typing import Any, BinaryIO
from xml.parsers import expat

from django.conf import settings

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 5 * 1024 * 1024  # the upload itself
    max_rows: int = 5_001  # data rows plus the header
    max_cells: int = 200_000
    max_fields_per_row: int = 64
    max_string: int = 32_767  # Excel's own limit for one cell
    max_entries: int = 64  # zip members of one workbook
    max_member_bytes: int = 16 * 1024 * 1024  # uncompressed, one worksheet or the shared strings
    max_other_member_bytes: int = 2 * 1024 * 1024  # uncompressed, any other part (styles, rels...)
    max_total_bytes: int = 32 * 1024 * 1024  # uncompressed, all members
    max_ratio: int = 100  # uncompressed / compressed, one member


def limits() -> Limits:
    """The limits in force: ``settings.IMPORT_<NAME>`` overrides each default."""
    defaults = Limits()
    return Limits(
        **{
            name: int(getattr(settings, f"IMPORT_{name.upper()}", getattr(defaults, name)))
            for name in Limits.__dataclass_fields__
        }
    )


class InspectionError(ValueError):
    """An upload refused before parsing; the message names the limit and the value found."""


def _refuse(what: str, found: int | str, limit: int | str) -> InspectionError:
    return InspectionError(f"{what}: {found} (the limit is {limit}).")


# --- XLSX -----------------------------------------------------------------------------------------


def _is_sheet_data(name: str) -> bool:
    return (name.startswith("xl/worksheets/") and name.endswith(".xml")) or name == "xl/sharedStrings.xml"


def _is_xml(name: str) -> bool:
    return name.endswith((".xml", ".rels", ".vml"))


class _SheetCounter:
    """Expat handlers counting rows, cells, cells per row and the longest string: the text of one
    value, formula or shared/inline string (all its rich-text runs together) or of any other
    element."""

    STRINGS = frozenset({"si", "is", "v", "f"})

    def __init__(self, member: str, bounds: Limits, totals: dict[str, int]) -> None:
        self.member, self.bounds, self.totals = member, bounds, totals
        self.counts_cells = member.startswith("xl/worksheets/")
        self.cells_in_row = 0
        self.text_length = 0
        self.in_string = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rsplit(":", 1)[-1]
        if self.counts_cells:
            self._count(local)
        if local in self.STRINGS:
            self.in_string, self.text_length = True, 0
        elif not self.in_string:
            self.text_length = 0

    def _count(self, local: str) -> None:
        bounds = self.bounds
        if local == "row":
            self.totals["rows"] += 1
            self.cells_in_row = 0
            if self.totals["rows"] > bounds.max_rows:
                raise _refuse(f"Too many rows in {self.member}", f"more than {bounds.max_rows}", bounds.max_rows)
        elif local == "c":
            self.totals["cells"] += 1
            self.cells_in_row += 1
            if self.totals["cells"] > bounds.max_cells:
                raise _refuse("Too many cells", f"more than {bounds.max_cells}", bounds.max_cells)
            if self.cells_in_row > bounds.max_fields_per_row:
                raise _refuse(
                    f"Too many cells in one row of {self.member}",
                    f"more than {bounds.max_fields_per_row}",
                    bounds.max_fields_per_row,
                )

    def end(self, name: str) -> None:
        if name.rsplit(":", 1)[-1] in self.STRINGS:
            self.in_string = False

    def text(self, data: str) -> None:
        self.text_length += len(data)
        if self.text_length > self.bounds.max_string:
            raise _refuse(
                f"A string in {self.member} is too long",
                f"more than {self.bounds.max_string} characters",
                self.bounds.max_string,
            )

    @staticmethod
    def doctype(*args: Any) -> None:
        raise InspectionError("The workbook's XML declares a DOCTYPE, which spreadsheets never need.")


def _scan_xml(archive: zipfile.ZipFile, info: zipfile.ZipInfo, bounds: Limits, totals: dict[str, int]) -> None:
    counter = _SheetCounter(info.filename, bounds, totals)
    member_limit = _member_limit(info.filename, bounds)
    parser = expat.ParserCreate(namespace_separator=":")
    parser.buffer_text = False  # text arrives in pieces, counted and dropped
    parser.StartElementHandler = counter.start
    parser.EndElementHandler = counter.end
    parser.CharacterDataHandler = counter.text
    parser.StartDoctypeDeclHandler = counter.doctype
    parser.EntityDeclHandler = counter.doctype
    read = 0
    try:
        with archive.open(info) as member:
            while piece := member.read(CHUNK):
                read += len(piece)
                totals["bytes"] += len(piece)
                if read > member_limit:
                    raise _refuse(f"{info.filename} is too large uncompressed", read, member_limit)
                if totals["bytes"] > bounds.max_total_bytes:
                    raise _refuse("The workbook is too large uncompressed", totals["bytes"], bounds.max_total_bytes)
                parser.Parse(piece, False)
            parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise InspectionError(f"{info.filename} is not well-formed XML ({exc}).") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError) as exc:
        raise InspectionError(f"{info.filename} cannot be read from the workbook ({exc}).") from exc


def _member_limit(name: str, bounds: Limits) -> int:
    return bounds.max_member_bytes if _is_sheet_data(name) else bounds.max_other_member_bytes


def inspect_xlsx(upload: BinaryIO, bounds: Limits | None = None) -> dict[str, int]:
    """Refuse (``InspectionError``) an XLSX upload beyond any limit; return what was counted.
    The upload is rewound for the parser that follows."""
    bounds = bounds or limits()
    size = _size(upload)
    if size > bounds.max_bytes:
        raise _refuse("The file is too large", f"{size} bytes", f"{bounds.max_bytes} bytes")
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise InspectionError("The file is not a readable XLSX workbook.") from exc
    with archive:
        members = archive.infolist()
        if len(members) > bounds.max_entries:
            raise _refuse("Too many parts in the workbook", len(members), bounds.max_entries)
        declared = 0
        for info in members:
            declared += info.file_size
            if info.file_size > _member_limit(info.filename, bounds):
                limit = _member_limit(info.filename, bounds)
                raise _refuse(f"{info.filename} is too large uncompressed", f"{info.file_size} bytes", limit)
            ratio = info.file_size // max(info.compress_size, 1)
            if ratio > bounds.max_ratio:
                raise _refuse(f"{info.filename} is compressed too much", f"ratio {ratio}:1", f"{bounds.max_ratio}:1")
        if declared > bounds.max_total_bytes:
            raise _refuse("The workbook is too large uncompressed", f"{declared} bytes", bounds.max_total_bytes)
        totals = {"rows": 0, "cells": 0, "bytes": 0}
        for info in members:
            if _is_xml(info.filename):
                _scan_xml(archive, info, bounds, totals)
    upload.seek(0)
    return totals


# --- CSV ------------------------------------------------------------------------------------------


def _size(upload: BinaryIO) -> int:
    upload.seek(0, io.SEEK_END)
    size = upload.tell()
    upload.seek(0)
    return size


def inspect_csv(upload: BinaryIO, bounds: Limits | None = None) -> dict[str, int]:
    """Refuse (``InspectionError``) a CSV upload beyond any limit; return what was counted."""
    bounds = bounds or limits()
    size = _size(upload)
    if size > bounds.max_bytes:
        raise _refuse("The file is too large", f"{size} bytes", f"{bounds.max_bytes} bytes")
    text = codecs.getreader("utf-8-sig")(upload, errors="strict")
    rows = longest = 0
    try:
        for line, fields in enumerate(csv.reader(text), start=1):
            rows += 1
            if rows > bounds.max_rows:
                raise _refuse("Too many rows", f"more than {bounds.max_rows}", bounds.max_rows)
            if len(fields) > bounds.max_fields_per_row:
                raise _refuse(f"Too many fields on line {line}", len(fields), bounds.max_fields_per_row)
            for value in fields:
                longest = max(longest, len(value))
                if len(value) > bounds.max_string:
                    raise _refuse(f"A field on line {line} is too long", f"{len(value)} characters", bounds.max_string)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):  # the csv module's own bound (128 KiB)
            found = f"more than {csv.field_size_limit()} characters"
            raise _refuse("A field is too long", found, bounds.max_string) from exc
        raise InspectionError(f"The CSV file is malformed: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InspectionError("The CSV file is not UTF-8 text.") from exc
    upload.seek(0)
    return {"rows": rows, "longest": longest, "bytes": size}
