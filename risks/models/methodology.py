"""The risk assessment methodology (clause 6.1.2): scales, the matrix and the acceptance criteria.

A methodology is versioned: changing it creates a new version, and every risk remembers the
version it was scored with, so an old assessment keeps its meaning.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from ismsapp.querysets import ScopedQuerySet


class RiskMethodology(models.Model):
    """One version of the likelihood x impact method.

    ``likelihood_scale`` / ``impact_scale``: ``[{"value": 1, "label": "Rare", "description": "..."}, ...]``
    with values 1..N. ``levels``: ``[{"key": "low", "label": "Low", "colour": "#2e7d32"}, ...]`` from
    lowest to highest. ``matrix``: ``{"<likelihood>,<impact>": "<level key>"}`` for every cell.
    ``appetite``: the highest level that may be accepted by the risk owner alone.
    """

    version = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=120)
    likelihood_scale = models.JSONField()
    impact_scale = models.JSONField()
    levels = models.JSONField()
    matrix = models.JSONField()
    appetite = models.CharField(max_length=30, help_text="Highest level a risk owner may accept alone.")
    default_acceptance_months = models.PositiveSmallIntegerField(default=12)
    max_acceptance_months = models.PositiveSmallIntegerField(default=24)
    reminder_days = models.PositiveSmallIntegerField(default=30, help_text="Days before expiry to remind owners.")
    is_current = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"], condition=models.Q(is_current=True), name="one_current_methodology"
            ),
        ]
        verbose_name = "risk methodology"
        verbose_name_plural = "risk methodologies"

    def __str__(self) -> str:
        return f"{self.name} (version {self.version})"

    # --- derived values --------------------------------------------------------------------

    @property
    def level_keys(self) -> list[str]:
        return [level["key"] for level in self.levels]

    def level_rank(self, key: str) -> int:
        return self.level_keys.index(key)

    def level(self, likelihood: int, impact: int) -> str:
        """The level of a cell; ``ValidationError`` for values outside the scales."""
        self.check_value("likelihood", likelihood, self.likelihood_scale)
        self.check_value("impact", impact, self.impact_scale)
        return self.matrix[f"{likelihood},{impact}"]

    def level_info(self, key: str) -> dict[str, Any]:
        return next(level for level in self.levels if level["key"] == key)

    def within_appetite(self, level_key: str) -> bool:
        return self.level_rank(level_key) <= self.level_rank(self.appetite)

    @staticmethod
    def check_value(name: str, value: Any, scale: list[dict[str, Any]]) -> None:
        values = [step["value"] for step in scale]
        if not isinstance(value, int) or isinstance(value, bool) or value not in values:
            raise ValidationError(
                {
                    name: f"{name.capitalize()} must be one of {values[0]}-{values[-1]} "
                    f"on the methodology's scale (got {value!r})."
                }
            )

    def clean(self) -> None:
        errors: dict[str, str] = {}
        for name in ("likelihood_scale", "impact_scale"):
            scale = getattr(self, name)
            if (
                not isinstance(scale, list)
                or not scale
                or not all(isinstance(step, dict) for step in scale)
                or [s.get("value") for s in scale] != list(range(1, len(scale) + 1))
                or any(not str(s.get("label", "")).strip() for s in scale)
            ):
                errors[name] = "A scale lists steps with values 1, 2, 3 ... in order, each with a label."
        levels = self.levels if isinstance(self.levels, list) else []
        keys = [level.get("key") if isinstance(level, dict) else None for level in levels]
        if not keys or any(not isinstance(k, str) or not k for k in keys) or len(set(keys)) != len(keys):
            errors["levels"] = "Levels need distinct keys, from lowest to highest."
        if not isinstance(self.appetite, str) or self.appetite not in keys:
            errors["appetite"] = "The appetite must be one of the levels."
        if not errors:
            expected = {
                f"{li},{im}"
                for li in range(1, len(self.likelihood_scale) + 1)
                for im in range(1, len(self.impact_scale) + 1)
            }
            matrix = self.matrix if isinstance(self.matrix, dict) else {}
            if set(matrix) != expected or any(value not in keys for value in matrix.values()):
                errors["matrix"] = "The matrix gives a known level to every likelihood x impact cell."
        if self.default_acceptance_months > self.max_acceptance_months:
            errors["default_acceptance_months"] = "The default acceptance period exceeds the maximum."
        if errors:
            raise ValidationError(errors)
