"""Every state change and permission check of the platform itself, in one package:

- ``users``: users, their roles (four-eyes ISMS admin grants), passwords, lockouts, the
  organisation, the audit trail's verification (re-exported here: ``services.create_user``);
- ``sessions``: the record of each browser session, its lifetime, ending sessions;
- ``tokens``: named, expiring, hashed API tokens;
- ``mfa``: second factors (authenticator apps, recovery codes, passkeys) and who must have one;
- ``reports``: reports rendered in the background (who may request which kind, the request, the build).

The web side lives beside it: ``ismsapp.middleware`` (session lifetime), ``ismsapp.receivers``
(login signals), ``ismsapp.api.authentication`` (token authentication) and ``ismsapp.identity``
("confirm it's you" for pages and API actions).
"""

from ismsapp.services.users import (
    ROLES_NEEDING_SECOND_APPROVAL,
    approve_role_grant,
    check_may_change_roles,
    check_may_decide_grant,
    create_user,
    locked_out_usernames,
    pending_role_grants,
    reject_role_grant,
    save_organisation,
    set_password,
    unlock_user,
    update_user,
    verify_audit_trail,
)

__all__ = [
    "ROLES_NEEDING_SECOND_APPROVAL",
    "approve_role_grant",
    "check_may_change_roles",
    "check_may_decide_grant",
    "create_user",
    "locked_out_usernames",
    "pending_role_grants",
    "reject_role_grant",
    "save_organisation",
    "set_password",
    "unlock_user",
    "update_user",
    "verify_audit_trail",
]
