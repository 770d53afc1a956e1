from django.urls import include, path
from django.views.generic import TemplateView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("", include("ombud.accounts.urls")),
    path("", include("ombud.cases.urls")),
    path("", include("ombud.orgs.urls")),
    path("", include("ombud.notify.urls")),
    path("", include("ombud.portal.urls")),
    path("", include("ombud.intake.urls")),
]
