"""Forms of the evidence pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms

from evidence.formats import FORMATS
from evidence.models import EvidenceSource
from evidence.parsers.base import Action, Outcome
from ismsapp.models import User

FORMAT_CHOICES = [(name, spec.label) for name, spec in FORMATS.items()]


class SourceForm(forms.ModelForm):
    default_format = forms.ChoiceField(choices=FORMAT_CHOICES)
    owner = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True).order_by("username"))

    class Meta:
        model = EvidenceSource
        fields = ["name", "kind", "default_format", "hosts", "owner", "cadence_minutes", "supplier_accounts"]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = [item for item in (data if isinstance(data, list | tuple) else [data]) if item]
        if not files:
            return [super().clean(None, initial)]  # raises "This field is required."
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


EARLIEST_FILE_TIME = datetime(1990, 1, 1, tzinfo=UTC)


def file_times(text: str, count: int) -> list[datetime | None]:
    """The files' modification times as the browser sends them (``File.lastModified``: milliseconds
    since 1970, comma-separated, in the order of the files; empty or 0 where unknown). A time after
    the upload is taken as the upload's own time later on (the reference never lies ahead)."""
    if not text:
        return [None] * count
    values = text.split(",")
    if len(values) != count:
        raise forms.ValidationError(f"{len(values)} modification times for {count} files.")
    times: list[datetime | None] = []
    for value in values:
        if value in ("", "0"):
            times.append(None)
            continue
        if not value.isdecimal() or len(value) > 15:
            raise forms.ValidationError(f"{value[:20]!r} is not a time in milliseconds.")
        moment = datetime.fromtimestamp(int(value) / 1000, UTC)
        if moment < EARLIEST_FILE_TIME:
            raise forms.ValidationError(f"{moment:%Y-%m-%d} is before {EARLIEST_FILE_TIME:%Y}.")
        times.append(moment)
    return times


class UploadForm(forms.Form):
    source = forms.ModelChoiceField(queryset=EvidenceSource.objects.order_by("name"))
    format = forms.ChoiceField(choices=FORMAT_CHOICES)
    files = MultipleFileField(help_text="One or many files; each becomes an ingestion job.")
    # Filled in by the page's script from each file's lastModified: the year that RFC 3164 lines
    # leave out is decided against it (without it, against the upload's time).
    last_modified = forms.CharField(required=False, widget=forms.HiddenInput, max_length=16 * 1000)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "files" in data:
            try:
                data["written_at"] = file_times(data.get("last_modified", ""), len(data["files"]))
            except forms.ValidationError as error:
                self.add_error("last_modified", error)
        return data


class EventFilterForm(forms.Form):
    source = forms.ModelChoiceField(queryset=EvidenceSource.objects.order_by("name"), required=False)
    host = forms.CharField(required=False, max_length=255)
    user = forms.CharField(required=False, max_length=255)
    source_ip = forms.CharField(
        required=False,
        max_length=255,
        label="Peer address or host",
        help_text="An address (IPv4 or IPv6) or the host name a daemon logged",
    )
    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *((a.value, a.value) for a in Action)])
    outcome = forms.ChoiceField(required=False, choices=[("", "Any outcome"), *((o.value, o.value) for o in Outcome)])
    since = forms.DateTimeField(
        required=False, label="From (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, label="Until (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    edition = forms.ChoiceField(required=False, choices=[("2022", "2022"), ("2013", "2013")], label="Edition")
    control = forms.CharField(required=False, max_length=10, label="Control", help_text="e.g. 8.15 or A.12.4.1")
    job = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("'From' must be before 'Until'.")
        return data
