"""Forms of the audit pages. They only shape input; every rule is checked by the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q

from audits.models import (
    Audit,
    AuditProgramme,
    ChecklistItem,
    CorrectiveAction,
    EffectivenessVerification,
    Nonconformity,
)
from controls.models import Clause, Control, Edition
from ismsapp.forms import IsoDateInput
from ismsapp.models import User


class PersonField(forms.ModelChoiceField):
    def __init__(self, queryset: Any = None, **kwargs: Any) -> None:
        super().__init__(
            queryset=queryset if queryset is not None else User.objects.filter(is_active=True).order_by("username"),
            error_messages={"invalid_choice": "Choose an active user of this ISMS."},
            **kwargs,
        )

    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name() or obj.username


def auditors() -> Any:
    return (
        User.objects.filter(is_active=True, groups__permissions__codename="conduct_audit")
        .distinct()
        .order_by("username")
    )


class RequirementChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Control | Clause) -> str:
        return f"{obj.ref} {obj.title}"


def text_field(max_length: int, *, required: bool = False, rows: int = 3, **kwargs: Any) -> forms.CharField:
    return forms.CharField(
        widget=forms.Textarea(attrs={"rows": rows}), max_length=max_length, required=required, **kwargs
    )


class ProgrammeForm(forms.Form):
    title = forms.CharField(max_length=200)
    edition = forms.ChoiceField(choices=Edition.choices, label="Annex A edition followed")
    period_start = forms.DateField(widget=IsoDateInput(), label="Period starts")
    period_end = forms.DateField(widget=IsoDateInput(), label="Period ends")
    objectives = text_field(10_000, required=True)
    methods = text_field(10_000)
    owner = PersonField()

    @classmethod
    def initial_from(cls, programme: AuditProgramme) -> dict[str, Any]:
        return {name: getattr(programme, name) for name in cls.base_fields}


class AuditForm(forms.Form):
    title = forms.CharField(max_length=200)
    audit_type = forms.ChoiceField(choices=Audit.Type.choices, label="Type")
    controls = RequirementChoice(queryset=Control.objects.none(), required=False, label="Controls in scope")
    clauses = RequirementChoice(queryset=Clause.objects.none(), required=False, label="Clauses in scope")
    processes = text_field(5_000, rows=2)
    sites = text_field(5_000, rows=2)
    criteria = text_field(10_000, required=True, help_text="Standard, policies and contracts the audit checks against.")
    planned_start = forms.DateField(widget=IsoDateInput())
    planned_end = forms.DateField(widget=IsoDateInput())
    lead_auditor = PersonField(queryset=None)
    team = forms.ModelMultipleChoiceField(queryset=User.objects.none(), required=False)
    override_justification = text_field(
        5_000,
        label="Impartiality override (compliance officers)",
        help_text="Only if an auditor is involved with a requirement of the scope: why they may audit it anyway.",
    )

    def __init__(self, *args: Any, edition: str, with_auditors: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["controls"].queryset = Control.objects.filter(edition=edition).order_by("position")
        self.fields["clauses"].queryset = Clause.objects.filter(edition=edition, is_heading=False).order_by("position")
        if with_auditors:
            self.fields["lead_auditor"].queryset = auditors()
            self.fields["team"].queryset = auditors()
        else:
            del self.fields["lead_auditor"], self.fields["team"]

    @classmethod
    def initial_from(cls, audit: Audit) -> dict[str, Any]:
        values = {name: getattr(audit, name) for name in ("title", "audit_type", "processes", "sites", "criteria")}
        values |= {"planned_start": audit.planned_start, "planned_end": audit.planned_end}
        return values | {"controls": list(audit.controls.all()), "clauses": list(audit.clauses.all())}


class AssignAuditorsForm(forms.Form):
    lead_auditor = PersonField(queryset=None)
    team = forms.ModelMultipleChoiceField(queryset=User.objects.none(), required=False)
    override_justification = AuditForm.base_fields["override_justification"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lead_auditor"].queryset = auditors()
        self.fields["team"].queryset = auditors()


class ChecklistResultForm(forms.Form):
    result = forms.ChoiceField(
        choices=[("", "— not recorded —"), *ChecklistItem.Result.choices],
        required=False,
        widget=forms.Select(attrs={"autofocus": True}),
    )
    question = text_field(2_000, required=True, rows=2)
    notes = text_field(10_000, label="Auditor notes")
    sample_description = text_field(2_000, rows=2, label="Sample examined")
    sample_size = forms.IntegerField(min_value=0, max_value=1_000_000, required=False, label="Sample size")
    row_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    @classmethod
    def initial_from(cls, item: ChecklistItem) -> dict[str, Any]:
        return {name: getattr(item, name) for name in cls.base_fields}


class FindingForm(forms.Form):
    """A nonconformity raised from a checklist item: the requirement and severity come from the item."""

    statement = text_field(5_000, required=True, label="Statement of the nonconformity")
    evidence = text_field(10_000)


class DirectNonconformityForm(FindingForm):
    severity = forms.ChoiceField(choices=Nonconformity.Severity.choices)
    origin = forms.ChoiceField(choices=Nonconformity.Origin.choices)
    control = forms.ModelChoiceField(
        queryset=Control.objects.order_by("edition", "position"), required=False, label="Control (or a clause)"
    )
    clause = forms.ModelChoiceField(
        queryset=Clause.objects.filter(is_heading=False).order_by("edition", "position"), required=False
    )
    raised_on = forms.DateField(widget=IsoDateInput(), required=False, help_text="Today if left empty.")


class AnalysisForm(forms.Form):
    statement = text_field(5_000, required=True)
    evidence = text_field(10_000)
    correction = text_field(5_000, label="Correction taken")
    root_cause = text_field(5_000, label="Root-cause analysis")


class CorrectiveActionForm(forms.Form):
    description = text_field(5_000, required=True)
    owner = PersonField()
    due_date = forms.DateField(widget=IsoDateInput())


class ActionProgressForm(forms.Form):
    progress_note = text_field(5_000, label="Progress")
    complete = forms.BooleanField(required=False, label="The action is done")
    completed_on = forms.DateField(widget=IsoDateInput(), required=False, help_text="Today if left empty.")


class VerificationForm(forms.Form):
    method = text_field(5_000, required=True, help_text="What was examined to judge the actions' effect.")
    result = forms.ChoiceField(choices=EffectivenessVerification.Result.choices)
    reason = text_field(5_000, help_text="Required when ineffective: it reopens the actions.")
    verified_on = forms.DateField(widget=IsoDateInput(), required=False, help_text="Today if left empty.")


class RegisterFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *Nonconformity.Status.choices], required=False)
    severity = forms.ChoiceField(choices=[("", "Any severity"), *Nonconformity.Severity.choices], required=False)
    requirement = forms.CharField(max_length=20, required=False, label="Control or clause", help_text="e.g. 5.15")
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(corrective_actions__isnull=False).distinct().order_by("username"),
        required=False,
        label="Action owner",
    )
    overdue = forms.BooleanField(required=False, label="Overdue actions only")

    def apply(self, queryset: Any, today: Any) -> Any:
        if not self.is_valid():
            return queryset
        data = self.cleaned_data
        if data["status"]:
            queryset = queryset.filter(status=data["status"])
        if data["severity"]:
            queryset = queryset.filter(severity=data["severity"])
        if data["requirement"]:
            ref = data["requirement"].strip()
            queryset = queryset.filter(Q(control__ref=ref) | Q(clause__ref=ref))
        if data["owner"]:
            queryset = queryset.filter(corrective_actions__owner=data["owner"])
        if data["overdue"]:
            queryset = queryset.filter(
                corrective_actions__status__in=CorrectiveAction.OPEN_STATUSES, corrective_actions__due_date__lt=today
            )
        return queryset.distinct()
