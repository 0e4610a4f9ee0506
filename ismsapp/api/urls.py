"""Routes of the API under /api/."""

from typing import Any

from django.db import models
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from audits.api.urls import register as register_audits
from controls.api.urls import register as register_controls
from evidence.api.urls import register as register_evidence
from evidence.api.urls import urlpatterns as evidence_urls
from ismsapp.api.tokens import ApiTokenViewSet, TokenView
from ismsapp.api.views import ApiDocsView, AuditEntryViewSet, MeView, UserViewSet
from risks.api.urls import register as register_risks


class IdRouter(DefaultRouter):
    """Detail routes match only ids of the right shape (Django's ``int`` or ``uuid`` path
    converter, from the model's key), so ``/api/risks/abc/accept/`` is a 404 before any view or
    lookup sees ``abc``, and the schema types the id."""

    CONVERTERS = (
        (models.UUIDField, "uuid"),
        ((models.AutoField, models.BigAutoField, models.IntegerField), "int"),
    )

    def __init__(self) -> None:
        super().__init__(use_regex_path=False)

    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        queryset = getattr(viewset, "queryset", None)
        if getattr(viewset, "lookup_value_converter", None) is None and queryset is not None:
            meta, lookup = queryset.model._meta, viewset.lookup_field
            field = meta.pk if lookup == "pk" else meta.get_field(lookup)
            for kinds, converter in self.CONVERTERS:
                if isinstance(field, kinds):
                    name = getattr(viewset, "lookup_url_kwarg", None) or lookup
                    return f"<{converter}:{lookup_prefix}{name}>"
        return super().get_lookup_regex(viewset, lookup_prefix)


router = IdRouter()
router.include_format_suffixes = False
router.register("audit-entries", AuditEntryViewSet, basename="auditentry")
router.register("users", UserViewSet, basename="user")
router.register("tokens", ApiTokenViewSet, basename="apitoken")
register_controls(router)
register_risks(router)
register_evidence(router)
register_audits(router)

urlpatterns = [
    path("", include(router.urls)),
    *evidence_urls,
    path("me/", MeView.as_view(), name="api-me"),
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
]
