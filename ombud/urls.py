from django.urls import include, path, re_path
from django.views.generic import TemplateView

from ombud.intake.webhook import mailgun_inbound

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    # Mailgun posts raw MIME to the URL that ends in "mime", parsed fields to the other.
    re_path(r"^anymail/mailgun/inbound(?:_mime)?/$", mailgun_inbound, name="mailgun-inbound"),
    path("", include("ombud.accounts.urls")),
    path("", include("ombud.cases.urls")),
    path("", include("ombud.orgs.urls")),
    path("", include("ombud.portal.urls")),
    path("", include("ombud.intake.urls_staff")),
    path("", include("ombud.intake.urls")),
]
