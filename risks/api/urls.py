"""Register the risk API routes on the project's router."""

from rest_framework.routers import BaseRouter

from risks.api.views import AcceptanceViewSet, AssetViewSet, MethodologyViewSet, RiskViewSet, TreatmentActionViewSet


def register(router: BaseRouter) -> None:
    router.register("assets", AssetViewSet, basename="asset")
    router.register("risks", RiskViewSet, basename="risk")
    router.register("treatment-actions", TreatmentActionViewSet, basename="treatmentaction")
    router.register("risk-acceptances", AcceptanceViewSet, basename="riskacceptance")
    router.register("risk-methodologies", MethodologyViewSet, basename="riskmethodology")
