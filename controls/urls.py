"""Routes of the catalogue and the SoA (namespace ``controls``)."""

from django.urls import path, register_converter

from controls import views


class EditionConverter:
    regex = "2013|2022"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class ExportFormatConverter(EditionConverter):
    regex = "csv|xlsx|pdf"


register_converter(EditionConverter, "edition")
register_converter(ExportFormatConverter, "fmt")

app_name = "controls"
urlpatterns = [
    path("catalogue/", views.CatalogueView.as_view(), name="catalogue"),
    path("soa/", views.soa_default, name="soa_default"),
    path("<edition:edition>/soa/", views.SoAPageView.as_view(), name="soa"),
    path("soa/entries/<int:pk>/", views.SoAEntryRowView.as_view(), name="soa_entry_row"),
    path("soa/entries/<int:pk>/edit/", views.SoAEntryEditView.as_view(), name="soa_entry_edit"),
    path("soa/entries/<int:pk>/confirm-review/", views.ConfirmReviewView.as_view(), name="soa_confirm_review"),
    path("clauses/<int:pk>/", views.ClauseEntryRowView.as_view(), name="clause_entry_row"),
    path("clauses/<int:pk>/edit/", views.ClauseEntryEditView.as_view(), name="clause_entry_edit"),
    path("<edition:edition>/versions/", views.VersionListView.as_view(), name="soa_versions"),
    path("<edition:edition>/versions/publish/", views.PublishView.as_view(), name="soa_publish"),
    path("<edition:edition>/versions/diff/", views.DiffView.as_view(), name="soa_diff"),
    path("<edition:edition>/export/<fmt:fmt>/", views.ExportView.as_view(), name="soa_export"),
    path("transition/", views.TransitionView.as_view(), name="transition"),
]
