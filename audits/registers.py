"""The nonconformity and corrective-action register as the page shows it (same filters, same
visibility) and its exports: XLSX (two sheets) and CSV (two tables, a blank line between), every
cell neutralised against formula injection by the shared helpers of ``ismsapp.exports``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date
from itertools import chain
from typing import Any

from django.db.models import Prefetch, QuerySet

from audits.forms import RegisterFilterForm
from audits.models import CorrectiveAction, Nonconformity
from ismsapp.exports import Sheet, csv_lines, xlsx_workbook
from ismsapp.models import User

Column = tuple[str, Callable[[Any], Any], int]  # header, value, XLSX width


def _name(user: User | None) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def register_nonconformities(user: User, form: RegisterFilterForm, today: date) -> QuerySet[Nonconformity]:
    """The register's nonconformities for ``user`` and the filters of ``form`` (two queries)."""
    open_actions = CorrectiveAction.objects.filter(status__in=CorrectiveAction.OPEN_STATUSES).select_related("owner")
    return form.apply(
        Nonconformity.objects.for_user(user)
        .select_related("control", "clause", "audit", "raised_by")
        .prefetch_related(Prefetch("corrective_actions", queryset=open_actions, to_attr="open_actions")),
        today,
    ).order_by("-raised_on", "-pk")


def register_actions(
    user: User, form: RegisterFilterForm, nonconformities: QuerySet[Nonconformity], today: date
) -> QuerySet[CorrectiveAction]:
    """The corrective actions of those nonconformities that ``user`` may see, narrowed by the
    owner and overdue filters."""
    actions = CorrectiveAction.objects.for_user(user).filter(nonconformity__in=nonconformities.order_by().values("pk"))
    if form.is_valid():
        if form.cleaned_data["owner"]:
            actions = actions.filter(owner=form.cleaned_data["owner"])
        if form.cleaned_data["overdue"]:
            actions = actions.filter(status__in=CorrectiveAction.OPEN_STATUSES, due_date__lt=today)
    return actions.select_related("nonconformity", "owner").order_by("due_date", "pk")


def nonconformity_columns(today: date) -> list[Column]:
    return [
        ("Reference", lambda nc: nc.reference, 10),
        ("Raised on", lambda nc: nc.raised_on.isoformat(), 12),
        ("Severity", lambda nc: nc.get_severity_display(), 10),
        ("Status", lambda nc: nc.get_status_display(), 18),
        ("Requirement", lambda nc: nc.requirement_label, 30),
        ("Statement", lambda nc: nc.statement, 50),
        ("Evidence", lambda nc: nc.evidence, 40),
        ("Correction", lambda nc: nc.correction, 40),
        ("Root cause", lambda nc: nc.root_cause, 40),
        ("Source", lambda nc: nc.audit.title if nc.audit_id else f"Direct: {nc.get_origin_display()}", 25),
        ("Raised by", lambda nc: _name(nc.raised_by), 18),
        ("Closed on", lambda nc: nc.closed_on.isoformat() if nc.closed_on else "", 12),
        ("Open actions", lambda nc: len(nc.open_actions), 8),
        ("Overdue actions", lambda nc: sum(1 for a in nc.open_actions if a.due_date < today), 8),
    ]


def action_columns(today: date) -> list[Column]:
    return [
        ("Nonconformity", lambda a: a.nonconformity.reference, 12),
        ("Action", lambda a: a.description, 50),
        ("Owner", lambda a: _name(a.owner), 18),
        ("Due date", lambda a: a.due_date.isoformat(), 12),
        ("Status", lambda a: a.get_status_display(), 18),
        ("Overdue", lambda a: "Yes" if a.is_open and a.due_date < today else "", 8),
        ("Completed on", lambda a: a.completed_on.isoformat() if a.completed_on else "", 12),
        ("Progress note", lambda a: a.progress_note, 40),
        ("Reason reopened", lambda a: a.reopen_reason, 40),
    ]


def _rows(columns: list[Column], items: Iterable[Any]) -> Iterator[list[Any]]:
    for item in items:
        yield [value(item) for _, value, _ in columns]


def _header(columns: list[Column]) -> list[str]:
    return [name for name, _, _ in columns]


def register_csv(user: User, form: RegisterFilterForm, today: date) -> Iterator[str]:
    """The nonconformities table, a blank line, then the corrective actions table (streamed)."""
    nonconformities = register_nonconformities(user, form, today)
    ncs, actions = nonconformity_columns(today), action_columns(today)
    return chain(
        csv_lines(_header(ncs), _rows(ncs, nonconformities)),
        ["\r\n"],
        csv_lines(_header(actions), _rows(actions, register_actions(user, form, nonconformities, today)), bom=False),
    )


def register_xlsx(user: User, form: RegisterFilterForm, today: date) -> bytes:
    nonconformities = register_nonconformities(user, form, today)
    ncs, actions = nonconformity_columns(today), action_columns(today)
    return xlsx_workbook(
        [
            Sheet("Nonconformities", _header(ncs), _rows(ncs, nonconformities), [w for _, _, w in ncs]),
            Sheet(
                "Corrective actions",
                _header(actions),
                _rows(actions, register_actions(user, form, nonconformities, today)),
                [w for _, _, w in actions],
            ),
        ]
    )
