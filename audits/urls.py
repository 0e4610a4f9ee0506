"""Routes of the audit programme, audits, checklists and nonconformities (namespace ``audits``)."""

from django.urls import path

from audits.views import calendar, findings, programmes

app_name = "audits"
urlpatterns = [
    path("", programmes.ProgrammeListView.as_view(), name="programmes"),
    path("programmes/new/", programmes.ProgrammeEditView.as_view(), name="programme_create"),
    path("programmes/<int:pk>/", programmes.ProgrammeDetailView.as_view(), name="programme"),
    path("programmes/<int:pk>/edit/", programmes.ProgrammeEditView.as_view(), name="programme_edit"),
    path("programmes/<int:programme_pk>/audits/new/", programmes.AuditEditView.as_view(), name="audit_create"),
    path("list/", programmes.AuditListView.as_view(), name="audits"),
    path("<int:pk>/", programmes.AuditDetailView.as_view(), name="audit"),
    path("<int:pk>/edit/", programmes.AuditEditView.as_view(), name="audit_edit"),
    path("<int:pk>/auditors/", programmes.AssignAuditorsView.as_view(), name="assign_auditors"),
    path("<int:pk>/status/", programmes.AuditStatusView.as_view(), name="audit_status"),
    path("<int:pk>/report/draft/", programmes.ReportDraftView.as_view(), name="report_draft"),
    path("<int:pk>/report/finalise/", programmes.ReportFinaliseView.as_view(), name="report_finalise"),
    path("<int:pk>/report/final.pdf", programmes.FinalReportDownloadView.as_view(), name="report_download"),
    path("<int:pk>/checklist/generate/", programmes.GenerateChecklistView.as_view(), name="generate_checklist"),
    path("checklist/<int:pk>/", programmes.ChecklistItemRowView.as_view(), name="item_row"),
    path("checklist/<int:pk>/edit/", programmes.ChecklistItemEditView.as_view(), name="item_edit"),
    path("checklist/<int:pk>/nonconformity/", programmes.RaiseFromItemView.as_view(), name="item_raise"),
    path("nonconformities/", findings.RegisterView.as_view(), name="register"),
    path("nonconformities/export.<str:fmt>", findings.RegisterExportView.as_view(), name="register_export"),
    path("nonconformities/new/", findings.RaiseDirectView.as_view(), name="raise"),
    path("nonconformities/<int:pk>/", findings.NonconformityView.as_view(), name="nonconformity"),
    path(
        "nonconformities/<int:pk>/analysis/",
        findings.NonconformityStepView.as_view(step="analysis"),
        name="nonconformity_analysis",
    ),
    path(
        "nonconformities/<int:pk>/actions/", findings.NonconformityStepView.as_view(step="action"), name="action_create"
    ),
    path("nonconformities/<int:pk>/verify/", findings.NonconformityStepView.as_view(step="verify"), name="verify"),
    path("nonconformities/<int:pk>/close/", findings.NonconformityStepView.as_view(step="close"), name="close"),
    path("calendar/", calendar.CalendarView.as_view(), name="calendar"),
    path("calendar/link/", calendar.CalendarFeedManageView.as_view(), name="calendar_link"),
    path("calendar/<str:secret>.ics", calendar.CalendarFeedView.as_view(), name="calendar_ics"),
    path("my-actions/", findings.MyActionsView.as_view(), name="my_actions"),
    path("actions/<int:pk>/", findings.ActionUpdateView.as_view(), name="action_update"),
]
