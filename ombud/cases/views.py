from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ombud.accounts.keys import session_private_key
from ombud.accounts.views import login_again
from ombud.cases import selectors
from ombud.cases.forms import ReplyForm, followup_template
from ombud.cases.models import Status
from ombud.cases.services import case_content_read, case_recuse, message_to_reporter
from ombud.intake.forms import report_rows
from ombud.lib.errors import ServiceError
from ombud.lib.staff import staff_view


@never_cache
@staff_view()
@require_http_methods(["GET", "HEAD"])
def dashboard(request, organisation):
    cases = selectors.cases_for_responder(user=request.user, organisation=organisation)
    counts = selectors.case_counts_for_responder(user=request.user, organisation=organisation)
    return render(
        request,
        "cases/dashboard.html",
        {
            "organisation": organisation,
            "cases": cases,
            "counts": [(label, counts.get(value, 0)) for value, label in Status.choices],
            "total": sum(counts.values()),
        },
    )


@never_cache
@staff_view()
@require_http_methods(["GET", "HEAD"])
def case_detail(request, organisation, number):
    case = selectors.case_get_for_responder(
        user=request.user, organisation=organisation, number=number
    )
    private_key = session_private_key(request)
    if private_key is None:
        return login_again(request)
    reply_form = None
    if request.GET.get("template") == "followup":
        reply_form = ReplyForm(initial={"body": followup_template(case), "is_followup": True})
    return _case_page(request, organisation, case, private_key, reply_form=reply_form)


def _case_page(request, organisation, case, private_key, *, reply_form=None, status=200):
    content = case_content_read(actor=request.user, case=case, private_key=private_key)
    return render(
        request,
        "cases/case_detail.html",
        {
            "organisation": organisation,
            "case": case,
            "submissions": [(s, report_rows(c)) for s, c in content.submissions],
            "messages_thread": content.messages,
            "reply_form": reply_form or ReplyForm(),
            "consents": selectors.case_consents(case=case),
            "exclusions": selectors.case_exclusions(case=case),
            "team": selectors.case_team_with_access(case=case),
        },
        status=status,
    )


@never_cache
@staff_view()
@require_http_methods(["POST"])
def case_reply(request, organisation, number):
    case = selectors.case_get_for_responder(
        user=request.user, organisation=organisation, number=number
    )
    private_key = session_private_key(request)
    if private_key is None:
        return login_again(request)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            message_to_reporter(
                actor=request.user,
                case=case,
                private_key=private_key,
                body=form.cleaned_data["body"],
                is_followup=form.cleaned_data["is_followup"],
            )
        except ServiceError as e:
            form.add_error("body", str(e))
        else:
            messages.success(request, "Your message to the reporter was sent.")
            return redirect("case-detail", organisation.slug, number)
    return _case_page(request, organisation, case, private_key, reply_form=form, status=400)


@staff_view()
@require_http_methods(["GET", "HEAD", "POST"])
def case_recuse_view(request, organisation, number):
    case = selectors.case_get_for_responder(
        user=request.user, organisation=organisation, number=number
    )
    if request.method == "POST":
        case_recuse(actor=request.user, case=case)
        messages.success(request, f"You have recused yourself from case {number}.")
        return redirect("dashboard", organisation.slug)
    return render(request, "cases/case_recuse.html", {"organisation": organisation, "case": case})
