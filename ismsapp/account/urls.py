"""Routes of the account page, under /account/."""

from django.urls import path

from ismsapp.account import views

app_name = "account"

urlpatterns = [
    path("", views.AccountView.as_view(), name="index"),
    path("sessions/end-others/", views.EndOtherSessionsView.as_view(), name="end_other_sessions"),
    path("sessions/end-all/", views.EndAllSessionsView.as_view(), name="end_all_sessions"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("tokens/", views.TokenCreateView.as_view(), name="token_create"),
    path("tokens/<int:pk>/revoke/", views.TokenRevokeView.as_view(), name="token_revoke"),
]
