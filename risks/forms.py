"""Forms of the risk pages."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.db.models import Q, QuerySet

from controls.models import Control
from ismsapp.forms import IsoDateInput, OneTimeCodeField
from ismsapp.models import User
from ismsapp.services import mfa
from risks.models import Asset, Risk, RiskMethodology, TreatmentAction
from risks.services.register import ASSET_FIELDS


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.get_full_name() or obj.username


def scale_choices(scale: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [("", "—"), *((str(step["value"]), f"{step['value']} {step['label']}") for step in scale)]


class AssetForm(forms.ModelForm):
    owner = UserChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        error_messages={"invalid_choice": "The owner must be an active user."},
    )

    class Meta:
        model = Asset
        fields = list(ASSET_FIELDS)
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class RiskForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=10_000)
    assets = forms.ModelMultipleChoiceField(
        queryset=Asset.objects.order_by("name"), required=False, widget=forms.SelectMultiple(attrs={"size": 6})
    )
    threat = forms.CharField(max_length=300, required=False)
    vulnerability = forms.CharField(max_length=300, required=False)
    affects_confidentiality = forms.BooleanField(required=False, label="Affects confidentiality")
    affects_integrity = forms.BooleanField(required=False, label="Affects integrity")
    affects_availability = forms.BooleanField(required=False, label="Affects availability")
    owner = UserChoiceField(
        queryset=User.objects.none(),
        label="Risk owner",
        error_messages={"invalid_choice": "The owner must be an active user with the Risk owner role."},
    )
    inherent_likelihood = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    inherent_impact = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    treatment_option = forms.ChoiceField(choices=[("", "— not decided —"), *Risk.Treatment.choices], required=False)
    controls = forms.ModelMultipleChoiceField(
        queryset=Control.objects.select_related("section").order_by("-edition", "position"),
        required=False,
        label="Treatment controls (from the SoA)",
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    residual_likelihood = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    residual_impact = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    next_review = forms.DateField(required=False, widget=IsoDateInput())

    def __init__(
        self, *args: Any, methodology: RiskMethodology, editable: frozenset[str] | None = None, **kwargs: Any
    ) -> None:
        """``editable``: the fields the user may change (``risks.services.editable_risk_fields``);
        the others are left out of the form (the page shows them read-only)."""
        super().__init__(*args, **kwargs)
        from risks.services import risk_owner_candidates

        self.fields["owner"].queryset = risk_owner_candidates()
        for prefix in ("inherent", "residual"):
            self.fields[f"{prefix}_likelihood"].choices = scale_choices(methodology.likelihood_scale)
            self.fields[f"{prefix}_impact"].choices = scale_choices(methodology.impact_scale)
        self.fields["controls"].label_from_instance = lambda c: f"{c.edition} {c.ref} {c.title}"
        if editable is not None:
            for name in [name for name in self.fields if name not in editable]:
                del self.fields[name]

    @staticmethod
    def initial_from(risk: Risk) -> dict[str, Any]:
        initial = {
            name: getattr(risk, name)
            for name in (
                "title",
                "description",
                "threat",
                "vulnerability",
                "affects_confidentiality",
                "affects_integrity",
                "affects_availability",
                "inherent_likelihood",
                "inherent_impact",
                "treatment_option",
                "residual_likelihood",
                "residual_impact",
                "next_review",
            )
        }
        return {
            **initial,
            "owner": risk.owner_id,
            "assets": list(risk.assets.all()),
            "controls": list(risk.controls.all()),
        }

    def risk_values(self) -> tuple[dict[str, Any], list[Asset] | None, list[Control] | None]:
        """The risk's values, its assets and its controls (``None``: not in this form)."""
        data = dict(self.cleaned_data)
        assets = list(data.pop("assets")) if "assets" in data else None
        controls = list(data.pop("controls")) if "controls" in data else None
        return data, assets, controls


class ActionForm(forms.ModelForm):
    owner = UserChoiceField(
        queryset=User.objects.none(),
        error_messages={
            "invalid_choice": "Treatment actions are carried by active compliance officers, ISMS admins or risk owners."
        },
    )

    class Meta:
        model = TreatmentAction
        fields = ["description", "owner", "due_date", "status", "progress_note"]
        widgets = {"due_date": IsoDateInput(), "progress_note": forms.Textarea(attrs={"rows": 3})}

    def __init__(
        self,
        *args: Any,
        editable: frozenset[str] | None = None,
        statuses: frozenset[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """``editable`` and ``statuses`` from ``risks.services`` (``editable_action_fields``,
        ``progress_statuses``): a risk owner gets the status and the progress note only."""
        from risks.services import treatment_action_carriers

        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = treatment_action_carriers()
        if editable is not None:
            for name in [name for name in self.fields if name not in editable]:
                del self.fields[name]
        if statuses is not None and "status" in self.fields:
            if statuses:
                self.fields["status"].choices = [c for c in TreatmentAction.Status.choices if c[0] in statuses]
            else:  # a cancelled action stays cancelled for whoever may not plan
                del self.fields["status"]


class AcceptForm(forms.Form):
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5_000,
        help_text="Why is the residual risk acceptable? This text is signed with your name.",
    )
    expires_on = forms.DateField(widget=IsoDateInput(), label="Valid until")
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        strip=False,
        label="Your password (to sign the decision)",
    )
    otp_code = OneTimeCodeField(required=False, help_text="From your authenticator app (or a recovery code).")

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["otp_code"].widget.attrs.pop("autofocus", None)
        if user is None or not mfa.has_factor(user):
            del self.fields["otp_code"]  # asked only of those who have a second factor


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class ApprovalForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("refuse", "Refuse")])
    note = forms.CharField(max_length=500, required=False)


class RegisterFilterForm(forms.Form):
    SORTS = {
        "reference": "reference",
        "-residual": "-residual_rank",
        "-inherent": "-inherent_rank",
        "next_review": "next_review",
        "title": "title",
        "owner": "owner__username",
        "status": "status",
    }
    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Reference, title, threat"}),
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Risk.Status.choices])
    level = forms.CharField(required=False, max_length=30, label="Residual level")
    treatment = forms.ChoiceField(required=False, choices=[("", "Any treatment"), *Risk.Treatment.choices])
    owner = forms.CharField(required=False, max_length=150, label="Owner (username)")
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("reference", "Reference"),
            ("-residual", "Residual level (highest first)"),
            ("-inherent", "Inherent level (highest first)"),
            ("next_review", "Next review"),
            ("title", "Title"),
            ("owner", "Owner"),
            ("status", "Status"),
        ],
    )

    def apply(self, risks: QuerySet[Risk]) -> QuerySet[Risk]:
        data = self.cleaned_data if self.is_valid() else {}
        if query := (data.get("q") or "").strip():
            risks = risks.filter(
                Q(reference__icontains=query)
                | Q(title__icontains=query)
                | Q(threat__icontains=query)
                | Q(vulnerability__icontains=query)
            )
        if data.get("status"):
            risks = risks.filter(status=data["status"])
        if data.get("level"):
            risks = risks.filter(residual_level=data["level"])
        if data.get("treatment"):
            risks = risks.filter(treatment_option=data["treatment"])
        if data.get("owner"):
            risks = risks.filter(owner__username=data["owner"])
        order = self.SORTS.get(data.get("sort") or "reference", "reference")
        return risks.order_by(order, "reference")  # the reference breaks ties: stable pages


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV or XLSX with a header row.")
    MAX_BYTES = 5 * 1024 * 1024

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {self.MAX_BYTES // (1024 * 1024)} MB.")
        if not upload.name.lower().endswith((".csv", ".xlsx")):
            raise forms.ValidationError("Upload a .csv or .xlsx file.")
        return upload


def default_expiry(risk: Risk) -> date:
    from risks.services import terms_for

    return terms_for(risk).default_expiry
