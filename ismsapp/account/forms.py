"""Forms of the account page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import SetPasswordForm
from django.core.validators import MaxValueValidator

from ismsapp.services import tokens


class NewTokenForm(forms.Form):
    name = forms.CharField(
        max_length=tokens.NAME_MAX,
        help_text="What will use it, e.g. “SIEM export” or “CI pipeline”.",
    )
    expires_in_days = forms.IntegerField(label="Expires after (days)", min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        days = self.fields["expires_in_days"]
        days.validators.append(MaxValueValidator(tokens.max_days()))
        days.widget.attrs.update(max=tokens.max_days())
        days.initial = tokens.default_days()
        days.help_text = f"At most {tokens.max_days()} days."


class PasswordChangeForm(SetPasswordForm):
    """The current password, then the new one twice (checked against the password policy)."""

    current_password = forms.CharField(
        label="Current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["current_password", "new_password1", "new_password2"]
