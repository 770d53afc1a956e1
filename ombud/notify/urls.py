from django.urls import path

from ombud.notify import views

urlpatterns = [
    path("<slug:org_slug>/staff/outbox/", views.outbox, name="outbox"),
    path("<slug:org_slug>/staff/outbox/retry/", views.outbox_retry, name="outbox-retry"),
]
