"""Routes of machine evidence (namespace ``evidence``)."""

from django.urls import path

from evidence import views

app_name = "evidence"
urlpatterns = [
    path("", views.SourceListView.as_view(), name="sources"),
    path("sources/new/", views.SourceCreateView.as_view(), name="source_create"),
    path("sources/<int:pk>/", views.SourceDetailView.as_view(), name="source"),
    path("sources/<int:pk>/rotate-token/", views.RotateTokenView.as_view(), name="rotate_token"),
    path("upload/", views.UploadView.as_view(), name="upload"),
    path("jobs/", views.JobListView.as_view(), name="jobs"),
    path("jobs/<uuid:pk>/", views.JobView.as_view(), name="job"),
    path("jobs/<uuid:pk>/raw/", views.JobRawView.as_view(), name="job_raw"),
    path("events/", views.EventsView.as_view(), name="events"),
    path("events/export.csv", views.EventsExportView.as_view(), name="events_export"),
    path("sessions/", views.SessionListView.as_view(), name="sessions"),
    path("sessions/<int:pk>/", views.SessionView.as_view(), name="session"),
    path("sessions/<int:pk>/playback.cast", views.SessionPlaybackView.as_view(), name="session_playback"),
]
