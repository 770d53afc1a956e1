from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ombud.intake.forms import ReportForm
from ombud.intake.services import AlreadySent, report_submit
from ombud.lib.errors import ServiceError
from ombud.orgs import selectors as org_selectors


@require_http_methods(["GET", "HEAD"])
def organisation_home(request, org_slug):
    organisation = org_selectors.organisation_get(slug=org_slug)
    events = org_selectors.events_public(organisation=organisation)
    return render(
        request, "intake/organisation.html", {"organisation": organisation, "events": events}
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def report(request, org_slug, event_slug):
    """The public report form. A successful POST answers with the receipt page
    directly: the receipt is never put in a URL, a redirect or the session."""
    organisation = org_selectors.organisation_get(slug=org_slug)
    event = org_selectors.event_get_public(organisation=organisation, slug=event_slug)
    responders = org_selectors.members(organisation=organisation).filter(
        user__public_key__isnull=False
    )
    form = ReportForm(
        request.POST or None,
        request.FILES or None,
        responders=responders,
        recovery_procedure=org_selectors.recovery_procedure(organisation=organisation),
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                filed = report_submit(
                    event=event,
                    content=form.content(),
                    urgent=form.cleaned_data["ongoing"],
                    excluded_user_ids=form.cleaned_data["exclude"],
                    attachments=form.cleaned_data["attachments"],
                    form_token=form.cleaned_data["form_token"],
                )
            except ServiceError as e:
                form.add_error(None, str(e))
            else:
                if isinstance(filed, AlreadySent):
                    return render(
                        request,
                        "intake/already_sent.html",
                        {"organisation": organisation, "event": event},
                    )
                return render(
                    request,
                    "intake/receipt.html",
                    {
                        "organisation": organisation,
                        "event": event,
                        "case": filed.case,
                        "receipt": filed.receipt,
                        "excluded": bool(form.cleaned_data["exclude"]),
                    },
                )
        status = 400
        if request.FILES and "attachments" not in form.errors:
            # A browser cannot put files back into the form it shows again.
            form.add_error("attachments", "Please choose your files again: they were not kept.")
    return render(
        request,
        "intake/report.html",
        {"organisation": organisation, "event": event, "form": form},
        status=status,
    )
