from django.urls import path

from ombud.orgs import views, views_recovery

urlpatterns = [
    path("<slug:org_slug>/staff/events/", views.event_list, name="event-list"),
    path("<slug:org_slug>/staff/events/new/", views.event_edit, name="event-create"),
    path("<slug:org_slug>/staff/events/<slug:slug>/", views.event_edit, name="event-edit"),
    path("<slug:org_slug>/staff/team/", views.team, name="team"),
    path("<slug:org_slug>/staff/team/add/", views.member_add_view, name="member-add"),
    path("<slug:org_slug>/staff/team/<int:pk>/role/", views.member_role, name="member-role"),
    path(
        "<slug:org_slug>/staff/team/<int:pk>/mfa-reset/",
        views.member_mfa_reset_view,
        name="member-mfa-reset",
    ),
    path(
        "<slug:org_slug>/staff/team/<int:pk>/remove/",
        views.member_remove_view,
        name="member-remove",
    ),
    path("<slug:org_slug>/staff/catalog/", views.catalog, name="catalog"),
    path("<slug:org_slug>/staff/catalog/<int:pk>/", views.catalog_edit, name="catalog-edit"),
    path(
        "<slug:org_slug>/staff/settings/", views.organisation_settings, name="organisation-settings"
    ),
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
]
