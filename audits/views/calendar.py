"""The personal audit calendar: its page, its feed link, and the iCalendar feed itself."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View

from audits import ical
from audits.models import (
    Audit,
    CalendarFeed,
)
from audits.services import calendar as calendar_services

# --- the personal audit calendar (iCalendar feed) -------------------------------------------------


def _my_audits(user: Any) -> Any:
    return Audit.objects.for_user(user).assigned_to(user).select_related("lead_auditor").order_by("planned_start")


class CalendarView(View):
    """The user's audits and their personal feed: subscribe, replace the link, or revoke it."""

    def get(self, request: HttpRequest, feed_url: str = "", status: int = 200) -> HttpResponse:
        return render(
            request,
            "audits/calendar.html",
            {
                "audits": _my_audits(request.user),
                "feed": CalendarFeed.objects.filter(user=request.user).first(),
                "feed_url": feed_url,
            },
            status=status,
        )


class CalendarFeedManageView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.POST.get("action") == "revoke":
            if calendar_services.revoke_calendar_feed(actor=request.user):
                messages.success(request, "Your calendar link is revoked; calendars using it get nothing more.")
            return HttpResponseRedirect(reverse("audits:calendar"))
        secret = calendar_services.issue_calendar_feed(actor=request.user)
        url = request.build_absolute_uri(reverse("audits:calendar_ics", args=[secret]))
        return CalendarView().get(request, feed_url=url)


@method_decorator(login_not_required, name="dispatch")
class CalendarFeedView(View):
    """The feed itself: the secret in the URL is the only credential (calendar programs cannot log in)."""

    def get(self, request: HttpRequest, secret: str) -> HttpResponse:
        user = calendar_services.feed_user(secret)
        if user is None:
            raise Http404("No such calendar.")
        response = HttpResponse(
            ical.calendar(_my_audits(user), timezone.now()), content_type="text/calendar; charset=utf-8"
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
