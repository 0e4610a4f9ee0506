"""Forms of the platform pages: users and roles, audit-trail filters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html, validate_password
from django.core.exceptions import ValidationError

from ismsapp.cleaning import iter_field_errors
from ismsapp.models import AuditEntry, User
from ismsapp.roles import Role


def add_service_errors(
    form: forms.BaseForm, error: ValidationError, *, rename: dict[str, str] | None = None, rest: str | None = None
) -> None:
    """Show a service's ``ValidationError`` on ``form``: each message next to the field it names
    (after ``rename``: service name -> form field) when the form has that field, the others on
    ``rest`` (a field) or at the top of the form."""
    rename = rename or {}
    for field, messages in iter_field_errors(error):
        target = rename.get(field or "", field)
        form.add_error(target if target in form.fields else rest, messages)


class RolesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Role.choices, required=False, **kwargs)


class UserCreateForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[\w.@+-]+\Z",
        max_length=150,
        help_text="Letters, digits and @ . + - _ only.",
        error_messages={"invalid": "Use letters, digits and @ . + - _ only."},
    )
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    roles = RolesField()
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
        strip=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("password") and data.get("username"):
            candidate = User(
                username=data["username"],
                email=data.get("email", ""),
                first_name=data.get("first_name", ""),
                last_name=data.get("last_name", ""),
            )
            try:
                validate_password(data["password"], candidate)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("A user with this username already exists.")
        return username


class UserUpdateForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    roles = RolesField()
    is_active = forms.BooleanField(required=False, label="Active (may log in)")


class AuditTrailFilterForm(forms.Form):
    """Filters of the audit trail page, its CSV export and the API."""

    actor = forms.CharField(required=False, max_length=150, label="Actor (username)")
    action = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=[("", "Any action"), *AuditEntry.Action.choices]
    )
    object_type = forms.CharField(required=False, max_length=100, label="Object type")
    q = forms.CharField(required=False, max_length=200, label="Object contains")
    since = forms.DateTimeField(
        required=False, label="From (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, label="Until (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("'From' must be before 'Until'.")
        return data

    def filter(self, queryset: Any) -> Any:
        """Apply the valid filters to ``queryset`` (call after ``is_valid()``)."""
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("actor"):
            queryset = queryset.filter(actor_label__iexact=data["actor"])
        if data.get("action") is not None:
            queryset = queryset.filter(action=data["action"])
        if data.get("object_type"):
            queryset = queryset.filter(object_type=data["object_type"])
        if data.get("q"):
            queryset = queryset.filter(object_repr__icontains=data["q"])
        if data.get("since"):
            queryset = queryset.filter(timestamp__gte=data["since"])
        if data.get("until"):
            queryset = queryset.filter(timestamp__lte=data["until"])
        return queryset


class IsoDateInput(forms.DateInput):
    """``<input type="date">`` wants ISO dates whatever the language of the page."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class OneTimeCodeField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Authentication code")
        super().__init__(
            max_length=20,
            widget=forms.TextInput(
                attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True, "size": 12}
            ),
            **kwargs,
        )


class SecondFactorForm(forms.Form):
    """The second step of the login, and the first code of a new authenticator app."""

    otp_code = OneTimeCodeField(help_text="The 6-digit code shown by your authenticator app, or a recovery code.")


class ConfirmIdentityForm(forms.Form):
    """ "Confirm it's you": the password, and the code when the user has a second factor."""

    password = forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    otp_code = OneTimeCodeField(required=False, help_text="From your authenticator app, or a recovery code.")

    def __init__(self, *args: Any, needs_code: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if needs_code:
            self.fields["otp_code"].required = True
            self.fields["password"].widget.attrs["autofocus"] = True
            self.fields["otp_code"].widget.attrs.pop("autofocus", None)
        else:
            del self.fields["otp_code"]
            self.fields["password"].widget.attrs["autofocus"] = True
