from django.urls import path

from ombud.accounts import views

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.logout, name="logout"),
    path("staff/", views.staff_home, name="staff-home"),
]
