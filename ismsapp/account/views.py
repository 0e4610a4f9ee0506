"""The account page: the user's sessions and API tokens; ISMS admins also see everybody's tokens
and end other users' sessions. Every change goes through ``ismsapp.services.sessions`` / ``ismsapp.services.tokens``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import authenticate, logout, update_session_auth_hash
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from ismsapp import services
from ismsapp.account.forms import NewTokenForm, PasswordChangeForm
from ismsapp.models import User
from ismsapp.roles import roles_of
from ismsapp.services import sessions, tokens


def account_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    user = request.user
    visible = tokens.visible_tokens(user)
    return {
        "roles": [role.label for role in roles_of(user)],
        "sessions": list(sessions.live_sessions(user)),
        "current_session": sessions.current_session_hash(request),
        "idle_minutes": round(sessions.idle_timeout().total_seconds() / 60),
        "absolute_hours": f"{sessions.absolute_lifetime().total_seconds() / 3600:g}",
        "tokens": [(token, tokens.status_of(token)) for token in visible.filter(user=user)],
        "others_tokens": [
            (token, tokens.status_of(token)) for token in visible.exclude(user=user).order_by("user__username")
        ],
        "token_form": NewTokenForm(),
        "password_form": PasswordChangeForm(user),
        **extra,
    }


class AccountView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "account/index.html", account_context(request))


class EndOtherSessionsView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        ended = sessions.end_sessions(
            request.user,
            keep_session_key=request.session.session_key,
            reason="signed out everywhere else",
            actor=request.user,
        )
        messages.success(request, f"Signed out of {ended} other session{'s' if ended != 1 else ''}.")
        return HttpResponseRedirect(reverse("account:index"))


class EndAllSessionsView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        sessions.end_sessions(request.user, reason="signed out everywhere", actor=request.user)
        logout(request)
        messages.success(request, "You were signed out everywhere, this browser included.")
        return HttpResponseRedirect(reverse("login"))


class TokenCreateView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        form = NewTokenForm(request.POST)
        if form.is_valid():
            try:
                issued = tokens.create_token(actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                # The key is in this response only: no redirect, nothing kept.
                context = account_context(request, issued=issued)
                response = render(request, "account/index.html", context, status=201)
                response["Cache-Control"] = "no-store"
                return response
        return render(request, "account/index.html", account_context(request, token_form=form), status=400)


class PasswordChangeView(View):
    """A user changes their own password: this browser stays signed in, every other session ends
    and every API token is revoked. Wrong current passwords count towards the login lockout."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        form = PasswordChangeForm(user, request.POST)
        if form.is_valid():
            current = form.cleaned_data["current_password"]
            if authenticate(request, username=user.get_username(), password=current) is None:
                locked = getattr(request, "axes_locked_out", False)
                form.add_error(
                    "current_password",
                    "Too many failed attempts: try again later or ask an ISMS admin to lift the lock."
                    if locked
                    else "This is not your current password.",
                )
            else:
                services.set_password(
                    actor=user,
                    user=user,
                    password=form.cleaned_data["new_password1"],
                    keep_session_key=request.session.session_key,
                )
                update_session_auth_hash(request, user)  # a new key; the session's record stays
                messages.success(
                    request, "Password changed. Your other sessions ended and your API tokens were revoked."
                )
                return HttpResponseRedirect(reverse("account:index"))
        return render(request, "account/index.html", account_context(request, password_form=form), status=400)


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("account:index")
    return HttpResponseRedirect(target)


class TokenRevokeView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        token = get_object_or_404(tokens.visible_tokens(request.user), pk=pk)
        if tokens.revoke_token(actor=request.user, token=token):
            messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
        else:
            messages.info(request, f"Token “{token.name}” was already revoked.")
        return _back(request)


class UserEndSessionsView(PermissionRequiredMixin, View):
    """An ISMS admin ends every session of a user (from the users page)."""

    permission_required = "ismsapp.change_user"
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        user = get_object_or_404(User.objects.for_user(request.user, "change"), pk=pk)
        if not sessions.can_end_sessions_of(request.user, user):
            raise PermissionDenied("You may not end this user's sessions.")
        ended = sessions.end_sessions(user, reason="ended by an ISMS admin", actor=request.user)
        messages.success(request, f"{ended} session{'s' if ended != 1 else ''} of {user.username} ended.")
        return HttpResponseRedirect(reverse("users"))
