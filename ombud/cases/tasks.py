"""Background work for cases. Tasks take ids only: never content or secrets."""

from django.conf import settings
from django.core.mail import send_mass_mail
from django.urls import reverse
from django_tasks import task

from ombud.cases.models import Case


@task()
def case_notify_new(case_id: str) -> int:
    """Tell every responder who holds the case that it exists: event, urgency
    and a link, never what was reported. Excluded responders hold no grant and
    so are never told."""
    case = Case.objects.select_related("event", "organisation").get(pk=case_id)
    url = settings.SITE_ROOT + reverse("case-detail", args=[case.organisation.slug, case.number])
    urgency = "ONGOING incident" if case.urgent else "New report"
    subject = f"[Ombud] {urgency}: {case.event.name} (case {case.number})"
    body = (
        f"{urgency} for {case.event.name}, case {case.number}.\n\n"
        f"Read it here (log in first): {url}\n\n"
        "This message contains no report content on purpose.\n"
    )
    emails = [
        (subject, body, settings.DEFAULT_FROM_EMAIL, [grant.user.email])
        for grant in case.grants.select_related("user")
    ]
    return send_mass_mail(emails, fail_silently=False)
