"""Taking a report in person: the staff intake form, its drafts, and the
receipt to show or print for the reporter."""

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ombud.accounts.keys import session_private_key
from ombud.accounts.views import login_again
from ombud.intake import selectors, services
from ombud.intake.forms_staff import StaffReportForm
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.orgs import selectors as org_selectors
from ombud.orgs.decorators import staff_view

# Drafts not touched for this long are pointed out in the list.
DRAFT_STALE_AFTER = timedelta(days=7)


def _require_intake(user, organisation) -> None:
    if not user.has_perm("intake.take_report", organisation):
        raise PermissionDenied(
            "Taking reports needs your own key pair: set your password through your "
            "invitation or a password reset first."
        )


@never_cache
@staff_view()
@require_http_methods(["GET", "HEAD", "POST"])
def intake_report(request, organisation):
    """A new report taken in person, with the author's unfinished ones listed."""
    _require_intake(request.user, organisation)
    return _intake_page(request, organisation, draft=None)


@never_cache
@staff_view()
@require_http_methods(["GET", "HEAD", "POST"])
def intake_draft(request, organisation, draft_id):
    """Resume one's own draft: go on writing, save again, or send it."""
    _require_intake(request.user, organisation)
    draft = selectors.intake_draft_get(user=request.user, organisation=organisation, pk=draft_id)
    return _intake_page(request, organisation, draft=draft)


@never_cache
@staff_view()
@require_http_methods(["POST"])
def intake_draft_delete(request, organisation, draft_id):
    _require_intake(request.user, organisation)
    draft = selectors.intake_draft_get(user=request.user, organisation=organisation, pk=draft_id)
    try:
        services.intake_draft_delete(actor=request.user, organisation=organisation, draft=draft)
    except ServiceError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, "Draft deleted.")
    return redirect("intake-report", organisation.slug)


def _intake_page(request, organisation, *, draft):
    responders = org_selectors.members(organisation=organisation).filter(
        user__public_key__isnull=False
    )
    form_kwargs = {"organisation": organisation, "actor": request.user, "responders": responders}
    if request.method != "POST":
        initial = None
        if draft is not None:
            private_key = session_private_key(request)
            if private_key is None:
                return login_again(request)
            try:
                initial = services.intake_draft_open(
                    actor=request.user, draft=draft, private_key=private_key
                )
            except crypto.DecryptionError:
                messages.error(
                    request,
                    "This draft was saved with the key you had before your password was "
                    "reset, so it cannot be opened any more. Delete it and start again.",
                )
                return redirect("intake-report", organisation.slug)
        form = StaffReportForm(initial=initial, **form_kwargs)
        return _form_page(request, organisation, form, draft)

    saving = request.POST.get("action") == "draft"
    # Drafts never keep files.
    files = None if saving else request.FILES
    form = StaffReportForm(request.POST, files, draft=saving, **form_kwargs)
    if form.is_valid():
        try:
            if saving:
                draft = services.intake_draft_save(
                    actor=request.user,
                    organisation=organisation,
                    event=form.cleaned_data["event"],
                    fields=form.draft_fields(),
                    draft=draft,
                )
            else:
                filed = services.intake_submit(
                    actor=request.user,
                    organisation=organisation,
                    event=form.cleaned_data["event"],
                    content=form.content(),
                    urgent=form.cleaned_data["ongoing"],
                    excluded_user_ids=form.cleaned_data["exclude"],
                    attachments=form.cleaned_data["attachments"],
                    draft=draft,
                    form_token=form.cleaned_data["form_token"],
                )
        except ServiceError as e:
            form.add_error(None, str(e))
        else:
            if saving:
                messages.success(
                    request,
                    "Draft saved, sealed so that only you can open it."
                    + (
                        " The files you chose were not kept: attach them when you send the report."
                        if request.FILES
                        else ""
                    ),
                )
                return redirect("intake-draft", organisation.slug, draft.pk)
            if isinstance(filed, services.AlreadySent):
                case = filed.case
                if case is not None and case.organisation_id != organisation.pk:
                    case = None
                return render(
                    request,
                    "intake/staff_already_sent.html",
                    {"organisation": organisation, "case": case},
                )
            # The receipt goes straight into this answer: never into a URL,
            # a redirect or the session.
            return render(
                request,
                "intake/staff_receipt.html",
                {
                    "organisation": organisation,
                    "event": filed.case.event,
                    "case": filed.case,
                    "receipt": filed.receipt,
                },
            )
    if request.FILES and not saving and "attachments" not in form.errors:
        # A browser cannot put files back into the form it shows again.
        form.add_error("attachments", "Please choose the files again: they were not kept.")
    return _form_page(request, organisation, form, draft, status=400)


def _form_page(request, organisation, form, draft, status=200):
    events = list(form.fields["event"].queryset)
    chosen = str(form["event"].value() or "")
    event = next((e for e in events if e.slug == chosen), events[0] if events else None)
    return render(
        request,
        "intake/staff_report.html",
        {
            "organisation": organisation,
            "form": form,
            "draft": draft,
            "event": event,
            "drafts": selectors.intake_drafts(user=request.user, organisation=organisation)
            if draft is None
            else None,
            "stale_before": timezone.now() - DRAFT_STALE_AFTER,
        },
        status=status,
    )
