"""Routes of the risk register (namespace ``risks``)."""

from django.urls import path

from risks import views

app_name = "risks"
urlpatterns = [
    path("", views.RegisterView.as_view(), name="register"),
    path("mine/", views.MyRisksView.as_view(), name="my_risks"),
    path("new/", views.RiskEditView.as_view(), name="create"),
    path("<int:pk>/", views.RiskDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.RiskEditView.as_view(), name="edit"),
    path("<int:pk>/actions/new/", views.ActionEditView.as_view(), name="action_create"),
    path("<int:pk>/actions/<int:action_pk>/", views.ActionEditView.as_view(), name="action_edit"),
    path("<int:pk>/accept/", views.AcceptView.as_view(), name="accept"),
    path("acceptances/<int:pk>/approve/", views.ApproveView.as_view(), name="approve"),
    path("acceptances/<int:pk>/revoke/", views.RevokeView.as_view(), name="revoke"),
    path("acceptances/<int:pk>/pdf/", views.AcceptancePdfView.as_view(), name="acceptance_pdf"),
    path("export/<str:what>.<str:fmt>", views.ExportView.as_view(), name="export"),
    path("assets/", views.AssetListView.as_view(), name="assets"),
    path("assets/new/", views.AssetEditView.as_view(), name="asset_create"),
    path("assets/<int:pk>/", views.AssetEditView.as_view(), name="asset_edit"),
    path("import/<str:what>/", views.ImportView.as_view(), name="import"),
    path("methodology/", views.MethodologyView.as_view(), name="methodology"),
]
