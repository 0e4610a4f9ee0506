"""The default 5 x 5 methodology of a new installation (editable: changes create a new version)."""

from __future__ import annotations

from typing import Any

LIKELIHOOD = [
    (1, "Rare", "May happen only in exceptional circumstances (less than once in 10 years)."),
    (2, "Unlikely", "Could happen at some time (once in 3-10 years)."),
    (3, "Possible", "Might happen (once in 1-3 years)."),
    (4, "Likely", "Will probably happen (about once a year)."),
    (5, "Almost certain", "Expected to happen (several times a year)."),
]
IMPACT = [
    (1, "Negligible", "No noticeable effect on customers, operations or compliance."),
    (2, "Minor", "Limited, internal effect; recovered within a day."),
    (3, "Moderate", "Customers affected or a reportable breach of contract; recovered within a week."),
    (4, "Major", "Regulatory breach or loss of key customers; weeks to recover."),
    (5, "Severe", "Threatens the organisation's survival or causes serious harm to people."),
]
LEVELS = [
    {"key": "low", "label": "Low", "colour": "#2e7d32"},
    {"key": "medium", "label": "Medium", "colour": "#f9a825"},
    {"key": "high", "label": "High", "colour": "#ef6c00"},
    {"key": "critical", "label": "Critical", "colour": "#c62828"},
]


def _cell(likelihood: int, impact: int) -> str:
    score = likelihood * impact
    if score <= 4:
        return "low"
    if score <= 9:
        return "medium"
    if score <= 16:
        return "high"
    return "critical"


def default_methodology() -> dict[str, Any]:
    return {
        "name": "5 x 5 likelihood and impact",
        "likelihood_scale": [{"value": v, "label": label, "description": d} for v, label, d in LIKELIHOOD],
        "impact_scale": [{"value": v, "label": label, "description": d} for v, label, d in IMPACT],
        "levels": LEVELS,
        "matrix": {f"{li},{im}": _cell(li, im) for li in range(1, 6) for im in range(1, 6)},
        "appetite": "medium",
        "default_acceptance_months": 12,
        "max_acceptance_months": 24,
        "reminder_days": 30,
    }
