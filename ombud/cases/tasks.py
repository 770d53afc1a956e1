"""Background work for cases. Tasks take ids only: never content or secrets."""

from django.conf import settings
from django.core.mail import send_mass_mail
from django.urls import reverse
from django_tasks import task

from ombud.cases.models import Case


def _notify_team(case_id: str, headline: str) -> int:
    """Tell every responder who holds the case: event, what kind of news and a
    link, never what was written. Excluded or recused responders hold no grant
    and so are never told."""
    case = Case.objects.select_related("event", "organisation").get(pk=case_id)
    url = settings.SITE_ROOT + reverse("case-detail", args=[case.organisation.slug, case.number])
    subject = f"[Ombud] {headline}: {case.event.name} (case {case.number})"
    body = (
        f"{headline} for {case.event.name}, case {case.number}.\n\n"
        f"Read it here (log in first): {url}\n\n"
        "This message contains no report content on purpose.\n"
    )
    emails = [
        (subject, body, settings.DEFAULT_FROM_EMAIL, [grant.user.email])
        for grant in case.grants.select_related("user")
    ]
    return send_mass_mail(emails, fail_silently=False)


@task()
def case_notify_new(case_id: str) -> int:
    case_urgent = Case.objects.filter(pk=case_id, urgent=True).exists()
    return _notify_team(case_id, "ONGOING incident" if case_urgent else "New report")


@task()
def case_notify_reporter_wrote(case_id: str) -> int:
    return _notify_team(case_id, "The reporter wrote")
