"""Import assets (CSV or XLSX) and risks (XLSX or CSV): every row or none.

Each row is checked and created through the same services as the pages; the report names every
bad row and field. If any row fails, the whole import is rolled back.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from openpyxl import load_workbook

from controls.models import Control
from ismsapp.cleaning import control_character_problem, date_problem
from ismsapp.inspection import InspectionError, inspect_csv, inspect_xlsx
from ismsapp.models import User
from risks import services
from risks.models import Asset, Risk

MAX_ROWS = 5_000
MULTI_LINE_COLUMNS = frozenset({"description", "location", "threat", "vulnerability"})
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "assets": [
        ("name", "required, unique"),
        ("asset_type", "information, software, hardware, service, people, site or other"),
        ("owner", "username"),
        ("confidentiality", "1-5"),
        ("integrity", "1-5"),
        ("availability", "1-5"),
        ("location", "optional"),
        ("description", "optional"),
    ],
    "risks": [
        ("reference", "optional, e.g. R-0042 (given automatically when empty)"),
        ("title", "required"),
        ("description", "optional"),
        ("owner", "username of a risk owner"),
        ("assets", "asset names separated by ;"),
        ("threat", "optional"),
        ("vulnerability", "optional"),
        ("cia", "letters C, I, A affected, e.g. CI"),
        ("inherent_likelihood", "on the methodology's scale"),
        ("inherent_impact", "on the methodology's scale"),
        ("treatment", "modify, retain, avoid or share"),
        ("controls", "edition:reference separated by ;, e.g. 2022:8.15; 2022:5.15"),
        ("residual_likelihood", "optional"),
        ("residual_impact", "optional"),
        ("next_review", "YYYY-MM-DD, optional"),
    ],
}


@dataclass
class RowError:
    row: int  # 1-based line of the file (the header is row 1)
    field: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class FileError(ValueError):
    pass


def read_rows(upload: BinaryIO, name: str) -> Iterator[dict[str, str]]:
    """Rows of a CSV (UTF-8) or XLSX file as {lower-case header: text}, after the file passed
    ``ismsapp.inspection`` (sizes, counts, longest string) so no parser builds more than that."""
    try:
        (inspect_xlsx if name.lower().endswith(".xlsx") else inspect_csv)(upload)
    except InspectionError as exc:
        raise FileError(str(exc)) from exc
    if name.lower().endswith(".xlsx"):
        try:
            workbook = load_workbook(upload, read_only=True, data_only=True)
        except Exception as exc:
            raise FileError("The file is not a readable XLSX workbook.") from exc
        values = workbook.active.iter_rows(values_only=True)
        header = [str(h or "").strip().lower() for h in next(values, ())]
        for row in values:
            yield {
                h: ("" if v is None else (v.isoformat()[:10] if isinstance(v, date) else str(v)).strip())
                for h, v in zip(header, row, strict=False)
                if h
            }
        return
    try:
        text = io.TextIOWrapper(upload, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(text)
        for row in reader:
            yield {str(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k}
    except UnicodeDecodeError as exc:
        raise FileError("The CSV file is not UTF-8 text.") from exc
    except csv.Error as exc:
        raise FileError(f"The CSV file is malformed: {exc}") from exc


def _user(username: str, label: str) -> User:
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationError({label: f"No active user {username!r}."})
    return user


def _int(value: str, label: str, *, required: bool = True) -> int | None:
    if value == "" and not required:
        return None
    try:
        return int(float(value))
    except ValueError as exc:
        raise ValidationError({label: f"{value!r} is not a whole number."}) from exc


def _date(value: str, label: str) -> date | None:
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value[:10])
    except ValueError as exc:
        raise ValidationError({label: f"{value!r} is not a date (YYYY-MM-DD)."}) from exc
    problem = date_problem(parsed)
    if problem:
        raise ValidationError({label: f"{value!r}: {problem}."})
    return parsed


def cell_errors(line: int, row: dict[str, str]) -> list[RowError]:
    """Cells holding control characters (tab and line breaks pass in multi-line columns)."""
    return [
        RowError(line, column, problem)
        for column, value in row.items()
        if (problem := control_character_problem(value, multiline=column in MULTI_LINE_COLUMNS))
    ]


def _asset(actor: User, row: dict[str, str]) -> Asset:
    return services.save_asset(
        actor=actor,
        name=row.get("name", ""),
        asset_type=row.get("asset_type", "").lower(),
        owner=_user(row.get("owner", ""), "owner"),
        confidentiality=_int(row.get("confidentiality", ""), "confidentiality"),
        integrity=_int(row.get("integrity", ""), "integrity"),
        availability=_int(row.get("availability", ""), "availability"),
        location=row.get("location", ""),
        description=row.get("description", ""),
    )


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _risk(actor: User, row: dict[str, str]) -> Risk:
    assets = []
    for name in _split(row.get("assets", "")):
        asset = Asset.objects.filter(name=name).first()
        if asset is None:
            raise ValidationError({"assets": f"No asset named {name!r}."})
        assets.append(asset)
    controls = []
    for item in _split(row.get("controls", "")):
        edition, _, ref = item.partition(":")
        control = Control.objects.filter(edition=edition.strip(), ref=ref.strip()).first()
        if control is None:
            raise ValidationError({"controls": f"No control {item!r} (write edition:reference, e.g. 2022:8.15)."})
        controls.append(control)
    cia = row.get("cia", "").upper()
    if set(cia) - set("CIA"):
        raise ValidationError({"cia": f"{cia!r}: use the letters C, I and A only."})
    treatment = row.get("treatment", "").lower()
    if treatment and treatment not in Risk.Treatment.values:
        raise ValidationError({"treatment": f"{treatment!r} is not one of modify, retain, avoid, share."})
    if row.get("reference") and Risk.objects.filter(reference=row["reference"]).exists():
        raise ValidationError({"reference": f"A risk {row['reference']} already exists."})
    return services.create_risk(
        actor=actor,
        assets=assets,
        controls=controls,
        reference=row.get("reference") or None,
        title=row.get("title", ""),
        description=row.get("description", ""),
        owner=_user(row.get("owner", ""), "owner"),
        threat=row.get("threat", ""),
        vulnerability=row.get("vulnerability", ""),
        affects_confidentiality="C" in cia,
        affects_integrity="I" in cia,
        affects_availability="A" in cia,
        inherent_likelihood=_int(row.get("inherent_likelihood", ""), "inherent_likelihood", required=False),
        inherent_impact=_int(row.get("inherent_impact", ""), "inherent_impact", required=False),
        treatment_option=treatment,
        residual_likelihood=_int(row.get("residual_likelihood", ""), "residual_likelihood", required=False),
        residual_impact=_int(row.get("residual_impact", ""), "residual_impact", required=False),
        next_review=_date(row.get("next_review", ""), "next_review"),
    )


def _import(actor: User, upload: Any, what: str, create: Any) -> ImportReport:
    report = ImportReport()
    expected = {name for name, _ in COLUMNS[what]}
    with transaction.atomic():
        try:
            for line, row in enumerate(read_rows(upload, upload.name), start=2):
                if not any(row.values()):
                    continue
                report.rows += 1
                if report.rows > MAX_ROWS:
                    report.errors.append(RowError(line, "", f"More than {MAX_ROWS} rows: split the file."))
                    break
                unknown = set(row) - expected
                if unknown:
                    report.errors.append(RowError(line, ", ".join(sorted(unknown)), "Unknown column."))
                    continue
                if bad_cells := cell_errors(line, row):
                    report.errors.extend(bad_cells)
                    continue
                try:
                    with transaction.atomic():
                        create(actor, row)
                    report.created += 1
                except ValidationError as exc:
                    items = exc.message_dict.items() if hasattr(exc, "error_dict") else [("", exc.messages)]
                    report.errors.extend(
                        RowError(line, name if name != "__all__" else "", " ".join(msgs)) for name, msgs in items
                    )
                except IntegrityError:
                    report.errors.append(RowError(line, "", "Duplicate of an existing record."))
        except FileError as exc:
            report.errors.append(RowError(1, "file", str(exc)))
        if report.rows == 0 and not report.errors:
            report.errors.append(RowError(1, "file", "The file has no data rows."))
        if report.errors:
            report.created = 0
            transaction.set_rollback(True)
    return report


def import_assets(*, actor: User, upload: Any) -> ImportReport:
    return _import(actor, upload, "assets", _asset)


def import_risks(*, actor: User, upload: Any) -> ImportReport:
    return _import(actor, upload, "risks", _risk)
