"""Top-level routes. Every route is covered by the generic permission test (tests/test_routes.py)."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from ismsapp import security_views, views
from ismsapp.account import views as account_views

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/verify/", security_views.LoginVerifyView.as_view(), name="login_verify"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("confirm-identity/", security_views.ConfirmIdentityView.as_view(), name="confirm_identity"),
    path("account/security/", security_views.MFAView.as_view(), name="mfa"),
    path("account/security/authenticator/", security_views.TOTPEnrolView.as_view(), name="mfa_totp_enrol"),
    path(
        "account/security/authenticator/<int:pk>/remove/",
        security_views.TOTPRemoveView.as_view(),
        name="mfa_totp_remove",
    ),
    path(
        "account/security/passkeys/<int:pk>/remove/",
        security_views.PasskeyRemoveView.as_view(),
        name="mfa_passkey_remove",
    ),
    path("account/passkeys/", include("ismsapp.passkeys")),
    path("account/security/recovery-codes/", security_views.RecoveryCodesView.as_view(), name="mfa_recovery_codes"),
    path("health/", views.health, name="health"),
    path("audit-trail/", views.AuditTrailView.as_view(), name="audit_trail"),
    path("audit-trail/export.csv", views.AuditTrailExportView.as_view(), name="audit_trail_export"),
    path("users/", views.UserListView.as_view(), name="users"),
    path("users/new/", views.UserCreateView.as_view(), name="user_create"),
    path("users/<int:pk>/", views.UserUpdateView.as_view(), name="user_update"),
    path("users/<int:pk>/unlock/", views.UserUnlockView.as_view(), name="user_unlock"),
    path("users/<int:pk>/end-sessions/", account_views.UserEndSessionsView.as_view(), name="user_end_sessions"),
    path("account/", include("ismsapp.account.urls")),
    path("users/<int:pk>/reset-mfa/", security_views.UserMFAResetView.as_view(), name="user_mfa_reset"),
    path(
        "users/role-grants/<int:pk>/approve/",
        security_views.RoleGrantDecisionView.as_view(decision="approve"),
        name="role_grant_approve",
    ),
    path(
        "users/role-grants/<int:pk>/reject/",
        security_views.RoleGrantDecisionView.as_view(decision="reject"),
        name="role_grant_reject",
    ),
    path("reports/<uuid:pk>/", views.ReportStatusView.as_view(), name="report_status"),
    path("reports/<uuid:pk>/download/", views.ReportDownloadView.as_view(), name="report_download"),
    path("controls/", include("controls.urls")),
    path("risks/", include("risks.urls")),
    path("evidence/", include("evidence.urls")),
    path("audits/", include("audits.urls")),
    path("api/", include("ismsapp.api.urls")),
]

handler403 = "ismsapp.views.error_403"
handler404 = "ismsapp.views.error_404"
handler500 = "ismsapp.views.error_500"
