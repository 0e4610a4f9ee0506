"""Register the audits API routes on the project's router."""

from rest_framework.routers import BaseRouter

from audits.api.views import (
    AuditViewSet,
    ChecklistItemViewSet,
    CorrectiveActionViewSet,
    NonconformityViewSet,
    ProgrammeViewSet,
    VerificationViewSet,
)


def register(router: BaseRouter) -> None:
    router.register("audit-programmes", ProgrammeViewSet, basename="auditprogramme")
    router.register("audits", AuditViewSet, basename="audit")
    router.register("checklist-items", ChecklistItemViewSet, basename="checklistitem")
    router.register("nonconformities", NonconformityViewSet, basename="nonconformity")
    router.register("corrective-actions", CorrectiveActionViewSet, basename="correctiveaction")
    router.register("effectiveness-verifications", VerificationViewSet, basename="effectivenessverification")
