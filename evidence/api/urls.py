"""Register the evidence API routes on the project's router, and the push endpoint."""

from django.urls import path
from rest_framework.routers import BaseRouter

from evidence.api.views import EventViewSet, IngestView, JobViewSet, SessionViewSet, SourceViewSet


def register(router: BaseRouter) -> None:
    router.register("evidence-sources", SourceViewSet, basename="evidencesource")
    router.register("ingestion-jobs", JobViewSet, basename="ingestionjob")
    router.register("events", EventViewSet, basename="event")
    router.register("session-recordings", SessionViewSet, basename="sessionrecording")


urlpatterns = [path("ingest/<str:source>/", IngestView.as_view(), name="evidence-ingest")]
