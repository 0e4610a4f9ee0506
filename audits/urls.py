"""Routes of the audit programme, audits, checklists and nonconformities (namespace ``audits``)."""

from django.urls import path

from audits import views

app_name = "audits"
urlpatterns = [
    path("", views.ProgrammeListView.as_view(), name="programmes"),
    path("programmes/new/", views.ProgrammeEditView.as_view(), name="programme_create"),
    path("programmes/<int:pk>/", views.ProgrammeDetailView.as_view(), name="programme"),
    path("programmes/<int:pk>/edit/", views.ProgrammeEditView.as_view(), name="programme_edit"),
    path("programmes/<int:programme_pk>/audits/new/", views.AuditEditView.as_view(), name="audit_create"),
    path("list/", views.AuditListView.as_view(), name="audits"),
    path("<int:pk>/", views.AuditDetailView.as_view(), name="audit"),
    path("<int:pk>/edit/", views.AuditEditView.as_view(), name="audit_edit"),
    path("<int:pk>/auditors/", views.AssignAuditorsView.as_view(), name="assign_auditors"),
    path("<int:pk>/status/", views.AuditStatusView.as_view(), name="audit_status"),
    path("<int:pk>/report/draft/", views.ReportDraftView.as_view(), name="report_draft"),
    path("<int:pk>/report/finalise/", views.ReportFinaliseView.as_view(), name="report_finalise"),
    path("<int:pk>/report/final.pdf", views.FinalReportDownloadView.as_view(), name="report_download"),
    path("<int:pk>/checklist/generate/", views.GenerateChecklistView.as_view(), name="generate_checklist"),
    path("checklist/<int:pk>/", views.ChecklistItemRowView.as_view(), name="item_row"),
    path("checklist/<int:pk>/edit/", views.ChecklistItemEditView.as_view(), name="item_edit"),
    path("checklist/<int:pk>/nonconformity/", views.RaiseFromItemView.as_view(), name="item_raise"),
    path("nonconformities/", views.RegisterView.as_view(), name="register"),
    path("nonconformities/export.<str:fmt>", views.RegisterExportView.as_view(), name="register_export"),
    path("nonconformities/new/", views.RaiseDirectView.as_view(), name="raise"),
    path("nonconformities/<int:pk>/", views.NonconformityView.as_view(), name="nonconformity"),
    path(
        "nonconformities/<int:pk>/analysis/",
        views.NonconformityStepView.as_view(step="analysis"),
        name="nonconformity_analysis",
    ),
    path("nonconformities/<int:pk>/actions/", views.NonconformityStepView.as_view(step="action"), name="action_create"),
    path("nonconformities/<int:pk>/verify/", views.NonconformityStepView.as_view(step="verify"), name="verify"),
    path("nonconformities/<int:pk>/close/", views.NonconformityStepView.as_view(step="close"), name="close"),
    path("calendar/", views.CalendarView.as_view(), name="calendar"),
    path("calendar/link/", views.CalendarFeedManageView.as_view(), name="calendar_link"),
    path("calendar/<str:secret>.ics", views.CalendarFeedView.as_view(), name="calendar_ics"),
    path("my-actions/", views.MyActionsView.as_view(), name="my_actions"),
    path("actions/<int:pk>/", views.ActionUpdateView.as_view(), name="action_update"),
]
