"""A user's personal iCalendar feed of their audits: the secret is in the feed's URL (calendar
programs cannot log in), only its SHA-256 is kept, and the user revokes or replaces it at will."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CalendarFeed(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="audit_calendar")
    key_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Audit calendar feed of {self.user}"


__all__ = ["CalendarFeed"]
