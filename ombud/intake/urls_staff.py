from django.urls import path

from ombud.intake import views_staff

urlpatterns = [
    path("<slug:org_slug>/staff/intake/", views_staff.intake_report, name="intake-report"),
    path(
        "<slug:org_slug>/staff/intake/drafts/<uuid:draft_id>/",
        views_staff.intake_draft,
        name="intake-draft",
    ),
    path(
        "<slug:org_slug>/staff/intake/drafts/<uuid:draft_id>/delete/",
        views_staff.intake_draft_delete,
        name="intake-draft-delete",
    ),
]
