"""Forms of the SoA pages: inline row editing, filters, publishing, transition."""

from __future__ import annotations

from typing import Any

from django import forms

from controls.catalogue import attribute_values
from controls.models import Control, ImplementationStatus, InclusionReason, SoAVersion
from controls.soa import SoARow
from ismsapp.forms import IsoDateInput
from ismsapp.models import User


class OwnerField(forms.ModelChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            queryset=User.objects.filter(is_active=True).order_by("username"),
            required=False,
            empty_label="— no owner —",
            error_messages={"invalid_choice": "The owner must be an active user of this ISMS."},
            **kwargs,
        )

    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name() or obj.username


class TrackedRowForm(forms.Form):
    implementation_status = forms.ChoiceField(choices=ImplementationStatus.choices, label="Implementation status")
    owner = OwnerField()
    implementation_notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=10_000, label="Implementation notes"
    )
    last_reviewed = forms.DateField(required=False, widget=IsoDateInput(), label="Last reviewed")
    row_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class SoAEntryForm(TrackedRowForm):
    applicable = forms.TypedChoiceField(
        choices=[("yes", "Applicable"), ("no", "Excluded")],
        coerce=lambda v: v == "yes",
        label="Applicability",
        widget=forms.Select(attrs={"autofocus": True}),
    )
    inclusion_reasons = forms.MultipleChoiceField(
        choices=InclusionReason.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Inclusion reasons",
    )
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=10_000, label="Justification"
    )

    field_order = [
        "applicable",
        "inclusion_reasons",
        "justification",
        "implementation_status",
        "owner",
        "implementation_notes",
        "last_reviewed",
        "row_version",
    ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("applicable") is False and not (data.get("justification") or "").strip():
            self.add_error("justification", "A written justification is required to exclude a control.")
        return data

    @classmethod
    def initial_from(cls, row: SoARow) -> dict[str, Any]:
        return {
            "applicable": "yes" if row.applicable else "no",
            "inclusion_reasons": row.inclusion_reasons,
            "justification": row.justification,
            "implementation_status": row.implementation_status,
            "owner": row.owner_id,
            "implementation_notes": row.implementation_notes,
            "last_reviewed": row.last_reviewed,
            "row_version": row.row_version,
        }


class ClauseEntryForm(TrackedRowForm):
    @classmethod
    def initial_from(cls, row: Any) -> dict[str, Any]:
        return {
            "implementation_status": row.implementation_status,
            "owner": row.owner_id,
            "implementation_notes": row.implementation_notes,
            "last_reviewed": row.last_reviewed,
            "row_version": row.row_version,
        }


class SoAFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Reference, title, notes"}),
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *ImplementationStatus.choices])
    applicability = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), ("applicable", "Applicable"), ("excluded", "Excluded")],
    )
    section = forms.ChoiceField(required=False, label="Domain / theme")
    owner = forms.ChoiceField(required=False)
    attribute = forms.ChoiceField(required=False, label="Attribute")
    review = forms.ChoiceField(required=False, choices=[("", "Any"), ("needed", "Review needed")], label="Review")

    def __init__(self, data: Any, *, rows: list[SoARow], edition: str) -> None:
        super().__init__(data)
        self.edition = edition
        sections = dict.fromkeys((row.section_ref, f"{row.section_ref} {row.section_title}") for row in rows)
        self.fields["section"].choices = [("", "All"), *sections]
        owners = sorted({(row.owner, row.owner_name) for row in rows if row.owner}, key=lambda o: o[1].lower())
        self.fields["owner"].choices = [("", "Anyone"), ("none", "No owner"), *owners]
        self.fields["attribute"].choices = [("", "Any"), *((v, f"#{v}") for v in attribute_values(edition))]

    def apply(self, rows: list[SoARow]) -> list[SoARow]:
        """The rows matching the valid filters (invalid values are reported by the form and ignored)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        query = (data.get("q") or "").strip().lower()
        with_attribute = (
            set(
                Control.objects.filter(edition=self.edition, attributes__value=data["attribute"]).values_list(
                    "ref", flat=True
                )
            )
            if data.get("attribute")
            else set()
        )

        def keep(row: SoARow) -> bool:
            if data.get("status") and row.implementation_status != data["status"]:
                return False
            if data.get("applicability") and row.applicable != (data["applicability"] == "applicable"):
                return False
            if data.get("section") and row.section_ref != data["section"]:
                return False
            if data.get("owner") and row.owner != ("" if data["owner"] == "none" else data["owner"]):
                return False
            if data.get("attribute") and row.ref not in with_attribute:
                return False
            if data.get("review") and not row.review_needed:
                return False
            haystack = f"{row.ref} {row.title} {row.justification} {row.implementation_notes}".lower()
            return not query or query in haystack

        return [row for row in rows if keep(row)]


class PublishForm(forms.Form):
    approver = OwnerField(label="Approver")
    approved_on = forms.DateField(widget=IsoDateInput(), label="Approval date")
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2_000, label="Note (what changed, why)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["approver"].required = True
        self.fields["approver"].empty_label = "— choose the approver —"
        self.fields["approver"].error_messages["required"] = "An approver is required to publish a version."


class TransitionForm(forms.Form):
    source_version = forms.TypedChoiceField(
        label="2013 SoA to start from",
        coerce=int,
        empty_value=None,
        required=False,
        help_text="A published version is checked against its fingerprint before it is used.",
    )
    overwrite = forms.BooleanField(required=False, label="Replace the 2022 rows that were already edited")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        published = SoAVersion.objects.filter(edition="2013").order_by("-number")
        self.fields["source_version"].choices = [("", "Working draft")] + [
            (version.number, f"Version {version.number}, approved {version.approved_on:%Y-%m-%d}")
            for version in published.only("number", "approved_on")
        ]
