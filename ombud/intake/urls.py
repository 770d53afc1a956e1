from django.urls import path

from ombud.intake import views

urlpatterns = [
    path("<slug:org_slug>/", views.organisation_home, name="organisation-home"),
    path("<slug:org_slug>/<slug:event_slug>/report/", views.report, name="report"),
]
