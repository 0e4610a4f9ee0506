"""Demo organisation and one user per role, for the embedded setup (``make run``)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from ismsapp import services
from ismsapp.models import Organisation, User
from ismsapp.roles import Role
from ismsapp.services import mfa

DEMO_ORGANISATION = "Demo Organisation Ltd"
DEMO_MFA_EXEMPTION = "demo"
DEMO_USERS: dict[Role, tuple[str, str, str]] = {
    Role.COMPLIANCE_OFFICER: ("compliance", "Clara", "Compliance"),
    Role.RISK_OWNER: ("riskowner", "Rahul", "Owner"),
    Role.INTERNAL_AUDITOR: ("auditor", "Ines", "Auditor"),
    Role.EXTERNAL_AUDITOR: ("external", "Eli", "External"),
    Role.ISMS_ADMIN: ("admin", "Ada", "Admin"),
}


@dataclass(frozen=True)
class Credential:
    role: str
    username: str
    password: str


def _credentials_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


def load_demo_people() -> list[Credential]:
    """Create (once) the demo organisation and users; keep their passwords in ``var/``."""
    path = _credentials_file()
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if Organisation.current() is None:
        services.save_organisation(
            actor=None,
            name=settings.ISMS_ORGANISATION_NAME or DEMO_ORGANISATION,
            isms_scope="Demo scope: the company's SaaS platform, offices and staff.",
        )
    credentials = []
    for role, (username, first, last) in DEMO_USERS.items():
        password = known.get(username) or f"demo-{secrets.token_urlsafe(9)}"
        user = User.objects.filter(username=username).first()
        if user is None:
            services.create_user(
                actor=None,
                username=username,
                password=password,
                roles=[role],
                first_name=first,
                last_name=last,
                email=f"{username}@demo.invalid",
            )
        elif username not in known or not user.check_password(password):
            services.set_password(actor=None, user=user, password=password)
        user = User.objects.get(username=username)
        if user.mfa_exemption != DEMO_MFA_EXEMPTION:
            # The demo keeps logging in with a password; the pages say "exempt (demo)".
            mfa.set_exemption(actor=None, user=user, reason=DEMO_MFA_EXEMPTION)
        known[username] = password
        credentials.append(Credential(role.label, username, password))
    path.write_text(json.dumps(known, indent=2))
    path.chmod(0o600)
    return credentials
