from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ombud.accounts.keys import session_private_key
from ombud.accounts.views import login_again
from ombud.cases import selectors
from ombud.cases.models import Status
from ombud.cases.services import case_content_read, case_recuse
from ombud.intake.forms import ReportForm
from ombud.lib.staff import staff_view


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


def _labelled(content: dict) -> list[tuple[str, str]]:
    """The report's fields in form order, with the form's labels."""
    rows = []
    for name, field in ReportForm.base_fields.items():
        value = content.get(name)
        if name == "consent_public":
            value = dict(field.choices).get(value, value)
        elif isinstance(value, bool):
            value = "Yes" if value else "No"
        if value not in (None, ""):
            rows.append((field.label, value))
    return rows


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
    submissions = case_content_read(actor=request.user, case=case, private_key=private_key)
    return render(
        request,
        "cases/case_detail.html",
        {
            "organisation": organisation,
            "case": case,
            "submissions": [(s, _labelled(content)) for s, content in submissions],
            "exclusions": selectors.case_exclusions(case=case),
            "team": selectors.case_team_with_access(case=case),
        },
    )


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
