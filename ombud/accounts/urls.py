from django.urls import path

from ombud.accounts import views

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
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
    path(
        "accounts/invitation/<str:token>/",
        views.invitation_accept_view,
        name="invitation-accept",
    ),
    path("staff/", views.staff_home, name="staff-home"),
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
