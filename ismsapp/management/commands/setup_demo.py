"""Create the demo organisation and users (idempotent) and print their credentials."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from ismsapp.audit import audit_context
from ismsapp.demo import load_demo_people
from ismsapp.models import User


class Command(BaseCommand):
    help = "Create a demo organisation with one user per role (idempotent) and print their credentials."

    def handle(self, *args: Any, **options: Any) -> None:
        from audits.demo import load_demo_audits
        from controls.demo import load_demo_soa
        from evidence.demo import load_demo_evidence
        from risks.demo import accept_demo_risks, load_demo_risks

        with audit_context(label="command:setup_demo"), transaction.atomic():
            credentials = load_demo_people()
            soa = load_demo_soa()
            risks = load_demo_risks()
            owner_password = next(c.password for c in credentials if c.username == "riskowner")
            acceptances = accept_demo_risks(owner_password)
            evidence = load_demo_evidence(User.objects.get(username="admin"))
            audits = load_demo_audits()
        self.stdout.write(f"{soa}; {risks}; {acceptances}; {evidence}; {audits}")
        self.stdout.write(self.style.SUCCESS("Demo users (passwords kept in var/demo-credentials.json):"))
        for credential in credentials:
            self.stdout.write(
                f"  {credential.role:<20} username: {credential.username:<12} password: {credential.password}"
            )
