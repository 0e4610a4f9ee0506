"""Routes of the API under /api/."""

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

router = DefaultRouter()
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
