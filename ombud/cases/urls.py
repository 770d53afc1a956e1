from django.urls import path

from ombud.cases import views, views_access, views_attachments

urlpatterns = [
    path("<slug:org_slug>/staff/", views.dashboard, name="dashboard"),
    path("<slug:org_slug>/staff/cases/<int:number>/", views.case_detail, name="case-detail"),
    path(
        "<slug:org_slug>/staff/cases/<int:number>/recuse/",
        views.case_recuse_view,
        name="case-recuse",
    ),
    path(
        "<slug:org_slug>/staff/cases/<int:number>/grant/",
        views_access.case_grant,
        name="case-grant",
    ),
    path(
        "<slug:org_slug>/staff/cases/<int:number>/attachments/<uuid:attachment_id>/",
        views_attachments.attachment_download,
        name="case-attachment",
    ),
    path("<slug:org_slug>/staff/access/", views_access.access_pending, name="access-pending"),
] + [
    path(
        f"<slug:org_slug>/staff/cases/<int:number>/{action}/",
        views.case_action,
        {"action": action},
        name=f"case-{action}",
    )
    for action in views.ACTIONS
]
