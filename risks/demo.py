"""Demo risk register: assets, risks at every stage, treatment actions and acceptances."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from controls.models import Control
from ismsapp.models import User
from risks import services
from risks.models import Risk

ASSETS = [
    ("Customer database", "information", 5, 5, 4, "Cloud region eu-west"),
    ("Payment service", "service", 5, 5, 5, "Cloud region eu-west"),
    ("Source code repository", "software", 4, 5, 3, "SaaS"),
    ("Employee laptops", "hardware", 4, 3, 3, "Offices and homes"),
    ("Support staff", "people", 3, 3, 4, "Office"),
    ("Office network", "site", 2, 3, 3, "Office"),
]
# title, assets, threat, vulnerability, cia, inherent (l, i), treatment, controls 2022, residual, actions done?
RISKS = [
    (
        "Credential stuffing against admin accounts",
        [0, 1],
        "Credential stuffing",
        "Password-only admin logins",
        "CI",
        (4, 5),
        "modify",
        ["5.17", "8.5"],
        (2, 4),
        True,
    ),
    (
        "Ransomware on employee laptops",
        [3],
        "Ransomware",
        "Unpatched endpoints",
        "IA",
        (3, 4),
        "modify",
        ["8.7", "8.8", "8.13"],
        (2, 3),
        True,
    ),
    (
        "Leak of source code",
        [2],
        "Insider or stolen token",
        "Long-lived access tokens",
        "C",
        (3, 4),
        "modify",
        ["5.15", "8.4"],
        (2, 2),
        True,
    ),
    (
        "Cloud provider outage",
        [1],
        "Provider outage",
        "Single region",
        "A",
        (2, 5),
        "share",
        ["5.23", "5.30"],
        (2, 3),
        True,
    ),
    ("Phishing of support staff", [4], "Phishing", "Staff awareness", "CI", (4, 3), "modify", ["6.3"], (3, 3), False),
    (
        "Unlogged privileged activity",
        [0, 1],
        "Misuse of privileges",
        "Missing session recording",
        "CI",
        (3, 4),
        "modify",
        ["8.15", "8.2"],
        None,
        False,
    ),
    ("Physical intrusion at the office", [5], "Break-in", "Shared building", "A", (2, 2), "retain", [], (2, 2), True),
    (
        "Supplier data breach",
        [0],
        "Supplier compromise",
        "Supplier access to customer data",
        "C",
        (3, 5),
        "modify",
        ["5.19", "5.22"],
        (3, 4),
        True,
    ),
]


def load_demo_risks() -> str:
    """Fill the register once (skipped when it already holds risks)."""
    if Risk.objects.exists():
        return "risk register already filled: demo risks not added"
    officer = User.objects.get(username="compliance")
    owner = User.objects.get(username="riskowner")
    admin = User.objects.get(username="admin")
    services.current_methodology()
    assets = [
        services.save_asset(
            actor=officer,
            name=name,
            asset_type=kind,
            owner=admin,
            confidentiality=c,
            integrity=i,
            availability=a,
            location=where,
        )
        for name, kind, c, i, a, where in ASSETS
    ]
    today = timezone.localdate()
    created = []
    for index, (title, asset_ix, threat, vuln, cia, inherent, treatment, refs, residual, done) in enumerate(RISKS):
        risk = services.create_risk(
            actor=officer,
            title=title,
            owner=owner,
            assets=[assets[i] for i in asset_ix],
            controls=list(Control.objects.filter(edition="2022", ref__in=refs)),
            threat=threat,
            vulnerability=vuln,
            affects_confidentiality="C" in cia,
            affects_integrity="I" in cia,
            affects_availability="A" in cia,
            inherent_likelihood=inherent[0],
            inherent_impact=inherent[1],
            treatment_option=treatment,
            residual_likelihood=residual[0] if residual else None,
            residual_impact=residual[1] if residual else None,
            next_review=today + timedelta(days=90 + 15 * index),
        )
        if treatment == "modify":
            services.save_action(
                actor=officer,
                risk=risk,
                description=f"Implement controls {', '.join(refs)}",
                owner=admin,
                due_date=today + timedelta(days=30 + 10 * index),
                status="done" if done else "in_progress",
            )
        created.append(risk)
    return f"{len(created)} demo risks registered"


def accept_demo_risks(password: str) -> str:
    """The demo risk owner accepts two residual risks (one of them above appetite: awaits approval)."""
    owner = User.objects.get(username="riskowner")
    accepted = 0
    for reference, months in (("R-0003", 12), ("R-0008", 6)):
        risk = Risk.objects.get(reference=reference)
        if risk.acceptances.exists() or risk.status != Risk.Status.TREATED:
            continue
        services.accept_residual_risk(
            actor=owner,
            risk=risk,
            password=password,
            justification="Residual risk reviewed with the CISO; the "
            "remaining exposure is covered by monitoring and insurance.",
            expires_on=timezone.localdate() + timedelta(days=30 * months),
        )
        accepted += 1
    return f"{accepted} demo acceptances recorded"
