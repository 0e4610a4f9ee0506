"""API authentication by named, expiring tokens (the tokens themselves: ``ismsapp.services.tokens``)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from ismsapp.models import ApiToken, User
from ismsapp.services.tokens import TOUCH_INTERVAL, token_for_key


class TokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>`` against ``ApiToken`` (header parsing is DRF's)."""

    def authenticate_credentials(self, key: str) -> tuple[User, ApiToken]:
        token = token_for_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This token was revoked.")
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed("This token has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
