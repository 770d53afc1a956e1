from allauth.account import views as allauth_views
from allauth.mfa.base import views as mfa_views
from allauth.mfa.models import Authenticator
from allauth.mfa.totp import views as totp_views
from allauth.mfa.webauthn import views as webauthn_views
from django.urls import include, path
from django.views.generic import RedirectView

from ombud.accounts import mfa, views

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    # Where allauth's middleware sends someone who must log in: our login.
    path(
        "accounts/login/continue/",
        RedirectView.as_view(pattern_name="login", query_string=True),
        name="account_login",
    ),
    path("accounts/login/two-factor/", views.login_mfa, name="login-mfa"),
    path("accounts/login/two-factor/cancel/", views.login_mfa_cancel, name="login-mfa-cancel"),
    # allauth's MFA management pages; login, logout and password stay ours.
    path("accounts/mfa/", mfa_views.index, name="mfa_index"),
    path("accounts/mfa/reauthenticate/", mfa_views.reauthenticate, name="mfa_reauthenticate"),
    # Before allauth's own URLs, on the same paths: see mfa.setup_view.
    path(
        "accounts/mfa/totp/activate/",
        mfa.setup_view(totp_views.activate_totp, Authenticator.Type.TOTP),
        name="mfa_activate_totp",
    ),
    path(
        "accounts/mfa/webauthn/add/",
        mfa.setup_view(webauthn_views.add_webauthn, Authenticator.Type.WEBAUTHN),
        name="mfa_add_webauthn",
    ),
    path("accounts/mfa/totp/", include("allauth.mfa.totp.urls")),
    path("accounts/mfa/recovery-codes/", include("allauth.mfa.recovery_codes.urls")),
    path("accounts/mfa/webauthn/", include("allauth.mfa.webauthn.urls")),
    path(
        "accounts/reauthenticate/",
        allauth_views.reauthenticate,
        name="account_reauthenticate",
    ),
    path("accounts/logout/", views.logout, name="logout"),
    path("accounts/password/reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "accounts/password/reset/sent/",
        views.PasswordResetDoneView.as_view(),
        name="password-reset-done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "accounts/password/reset/complete/",
        views.PasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path("staff/profile/", views.profile, name="profile"),
    path("staff/profile/password/", views.password_change, name="password-change"),
    path(
        "staff/profile/push/<int:pk>/remove/",
        views.push_channel_remove_view,
        name="push-channel-remove",
    ),
    path(
        "staff/profile/push/<int:pk>/test/", views.push_channel_test_view, name="push-channel-test"
    ),
]
