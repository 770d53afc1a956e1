from django.urls import path

from ombud.portal import views

urlpatterns = [
    path("<slug:org_slug>/report/status/", views.enter, name="portal-enter"),
    path("<slug:org_slug>/report/status/case/", views.case_view, name="portal-case"),
    path("<slug:org_slug>/report/status/case/message/", views.message_view, name="portal-message"),
    path(
        "<slug:org_slug>/report/status/case/addition/", views.addition_view, name="portal-addition"
    ),
    path("<slug:org_slug>/report/status/case/consent/", views.consent_view, name="portal-consent"),
    path("<slug:org_slug>/report/status/leave/", views.leave, name="portal-leave"),
    path("<slug:org_slug>/report/status/lost/", views.lost, name="portal-lost"),
    path("<slug:org_slug>/report/status/renew/", views.renew, name="portal-renew-form"),
    path("<slug:org_slug>/report/status/renew/<str:token>/", views.renew, name="portal-renew"),
]
