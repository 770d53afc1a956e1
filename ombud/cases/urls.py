from django.urls import path

from ombud.cases import views, views_access, views_attachments, views_recovery, views_team

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
    path(
        "<slug:org_slug>/staff/recovery/restore/",
        views_recovery.recovery_restore,
        name="recovery-restore",
    ),
    path("<slug:org_slug>/staff/recovery/kit/", views_recovery.recovery_kit, name="recovery-kit"),
    path(
        "<slug:org_slug>/staff/recovery/rotate/",
        views_recovery.recovery_rotate,
        name="recovery-rotate",
    ),
    path(
        "<slug:org_slug>/staff/team/<int:pk>/remove/",
        views_team.member_remove_view,
        name="member-remove",
    ),
] + [
    path(
        f"<slug:org_slug>/staff/cases/<int:number>/{action}/",
        views.case_action,
        {"action": action},
        name=f"case-{action}",
    )
    for action in views.ACTIONS
]
