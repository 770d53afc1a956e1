from django.urls import path

from ombud.accounts import views

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.logout, name="logout"),
    path("staff/", views.staff_home, name="staff-home"),
    path("staff/profile/", views.profile, name="profile"),
    path(
        "staff/profile/push/<int:pk>/remove/",
        views.push_channel_remove_view,
        name="push-channel-remove",
    ),
    path(
        "staff/profile/push/<int:pk>/test/", views.push_channel_test_view, name="push-channel-test"
    ),
]
