"""Risk assessment and treatment (clauses 6.1.2, 6.1.3, 8.2, 8.3)."""

from risks.models.methodology import RiskMethodology
from risks.models.register import Asset, Risk, RiskAcceptance, TreatmentAction

__all__ = ["Asset", "Risk", "RiskAcceptance", "RiskMethodology", "TreatmentAction"]
