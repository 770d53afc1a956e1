from django.urls import path

from ombud.cases import views

urlpatterns = [
    path("<slug:org_slug>/staff/", views.dashboard, name="dashboard"),
    path("<slug:org_slug>/staff/cases/<int:number>/", views.case_detail, name="case-detail"),
    path(
        "<slug:org_slug>/staff/cases/<int:number>/recuse/",
        views.case_recuse_view,
        name="case-recuse",
    ),
    path("<slug:org_slug>/staff/cases/<int:number>/reply/", views.case_reply, name="case-reply"),
]
