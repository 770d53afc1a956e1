from django.urls import path

from ombud.orgs import views, views_outbox

urlpatterns = [
    path("staff/", views.staff_home, name="staff-home"),
    path("accounts/invitation/", views.invitation_accept_view, name="invitation-accept-form"),
    path(
        "accounts/invitation/<str:token>/",
        views.invitation_accept_view,
        name="invitation-accept",
    ),
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
    path("<slug:org_slug>/staff/catalog/", views.catalog, name="catalog"),
    path("<slug:org_slug>/staff/catalog/<int:pk>/", views.catalog_edit, name="catalog-edit"),
    path(
        "<slug:org_slug>/staff/settings/", views.organisation_settings, name="organisation-settings"
    ),
    path("<slug:org_slug>/staff/outbox/", views_outbox.outbox, name="outbox"),
    path("<slug:org_slug>/staff/outbox/retry/", views_outbox.outbox_retry, name="outbox-retry"),
]
