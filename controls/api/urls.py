"""Register the controls API routes on the project's router."""

from rest_framework.routers import BaseRouter

from controls.api.views import ControlViewSet, SoAEntryViewSet, SoAVersionViewSet


def register(router: BaseRouter) -> None:
    router.register("controls", ControlViewSet, basename="control")
    router.register("soa-entries", SoAEntryViewSet, basename="soaentry")
    router.register("soa-versions", SoAVersionViewSet, basename="soaversion")
