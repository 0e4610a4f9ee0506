"""Free-text fields of the audit records: bounded length, no control characters."""

from __future__ import annotations

import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models

ALLOWED_CONTROL = {"\t", "\n", "\r"}


def reject_control_characters(value: Any) -> None:
    """NUL bytes and other control characters (tab and line breaks excepted) are refused."""
    if not isinstance(value, str):
        return
    for char in value:
        if char not in ALLOWED_CONTROL and unicodedata.category(char) == "Cc":
            raise ValidationError(
                f"Contains a control character (U+{ord(char):04X}); remove it and save again.",
                code="control_character",
            )


def text(max_length: int, *, blank: bool = True, **kwargs: Any) -> models.TextField:
    """A TextField whose length and characters are checked by ``full_clean``."""
    return models.TextField(
        max_length=max_length,
        blank=blank,
        validators=[MaxLengthValidator(max_length), reject_control_characters],
        **kwargs,
    )


def line(max_length: int, *, blank: bool = True, **kwargs: Any) -> models.CharField:
    """A one-line CharField (its length is checked by Django) without control characters."""
    return models.CharField(max_length=max_length, blank=blank, validators=[reject_control_characters], **kwargs)
