"""The user's own account page (``/account/``): sessions and API tokens; other sections join it."""
