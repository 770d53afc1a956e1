from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ombud.accounts.keys import session_private_key
from ombud.accounts.views import login_again
from ombud.cases import forms, selectors
from ombud.cases.models import Status
from ombud.cases.schema import checklist_rows, report_rows
from ombud.cases.services.attachments import attachment_rows
from ombud.cases.services.decisions import (
    appeal_record,
    decision_approve,
    decision_record,
    response_done_set,
)
from ombud.cases.services.keys import case_content_read
from ombud.cases.services.messages import message_to_reporter
from ombud.cases.services.receipts import receipts_pending_seal
from ombud.cases.services.reported import reported_message_approve, reported_message_draft
from ombud.cases.services.workflow import (
    MEETING_SECTIONS,
    case_acknowledge,
    case_assign,
    case_flags_update,
    case_mark_urgent,
    case_recuse,
    case_status_change,
    meeting_record,
    note_add,
)
from ombud.lib.errors import ServiceError
from ombud.orgs.decorators import staff_view

DASHBOARD_PAGE = 100


def _receipts_complete(request, organisation, private_key=None) -> None:
    """A reporter's new receipt works once someone who holds the case is here
    with their key (ombud.cases.services.receipts)."""
    private_key = private_key or session_private_key(request)
    if private_key is not None:
        receipts_pending_seal(
            actor=request.user, organisation=organisation, private_key=private_key
        )


@never_cache
@staff_view()
@require_http_methods(["GET", "HEAD"])
def dashboard(request, organisation):
    _receipts_complete(request, organisation)
    filters = forms.DashboardFilterForm(request.GET or None, organisation=organisation)
    filters.is_valid()  # invalid filters are dropped, the valid ones kept
    chosen = getattr(filters, "cleaned_data", {})
    cases = selectors.dashboard_cases(
        user=request.user,
        organisation=organisation,
        event=chosen.get("event"),
        status=chosen.get("status"),
        assignee=chosen.get("assignee"),
    )
    counts = selectors.case_counts_for_responder(user=request.user, organisation=organisation)
    page = Paginator(cases, DASHBOARD_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "cases/dashboard.html",
        {
            "organisation": organisation,
            "cases": page,
            "page": page,
            "query": query.urlencode(),
            "filters": filters,
            "mine": cases.filter(assignee=request.user)[:DASHBOARD_PAGE]
            if not chosen.get("assignee")
            else None,
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
    _receipts_complete(request, organisation, private_key)
    reply_form = None
    if request.GET.get("template") == "followup":
        reply_form = forms.ReplyForm(
            case=case, initial={"body": forms.followup_template(case), "is_followup": True}
        )
    return _case_page(
        request,
        organisation,
        case,
        private_key,
        bound={"reply": reply_form} if reply_form else None,
    )


def _case_forms(case) -> dict:
    """The page's forms by action, with `_` for `-` so templates can name them."""
    return {name.replace("-", "_"): action.form(case=case) for name, action in ACTIONS.items()}


def _case_page(request, organisation, case, private_key, *, bound=None, status=200):
    content = case_content_read(actor=request.user, case=case, private_key=private_key)
    forms = _case_forms(case) | (bound or {})
    return render(
        request,
        "cases/case_detail.html",
        {
            "organisation": organisation,
            "case": case,
            "submissions": [
                (s, None if c is None else checklist_rows(c) + report_rows(c))
                for s, c in content.submissions
            ],
            "attachments": attachment_rows(
                actor=request.user,
                case=case,
                private_key=private_key,
                attachments=content.attachments,
            ),
            "messages_thread": content.messages,
            "notes": content.notes,
            "decisions": content.decisions,
            "appeals": content.appeals,
            "reported_messages": content.reported_messages,
            "timeline": selectors.case_timeline(case=case, content=content),
            "meeting_sections": MEETING_SECTIONS,
            "forms": forms,
            "consents": selectors.case_consents(case=case),
            "exclusions": selectors.case_exclusions(case=case),
            "team": selectors.case_team_with_access(case=case),
            "appeal_without_reviewer": selectors.appeal_without_reviewer(case=case),
        },
        status=status,
    )


@dataclass(frozen=True)
class Action:
    """A POST on the case page: its form, the service it calls, what to say
    (or how to say it, from the case as it is afterwards)."""

    form: type
    run: Callable  # (actor, case, cleaned form, private key)
    done: str | Callable  # (case) -> str


def _appeal_recorded(case) -> str:
    if selectors.appeal_without_reviewer(case=case) is None:
        return (
            "Appeal recorded; responders who took no part in the decision are asked to review it."
        )
    return (
        "Appeal recorded. Nobody can review this appeal yet: everyone who holds the case took "
        "part in the decision. Give access to a member who took no part (see Appeals below)."
    )


ACTIONS = {
    "reply": Action(
        forms.ReplyForm,
        lambda actor, case, f, key: message_to_reporter(
            actor=actor,
            case=case,
            private_key=key,
            body=f.cleaned_data["body"],
            is_followup=f.cleaned_data["is_followup"],
        ),
        "Your message to the reporter was sent.",
    ),
    "acknowledge": Action(
        forms.CaseForm,
        lambda actor, case, f, key: case_acknowledge(actor=actor, case=case),
        "You acknowledged the case for the team; paging stops.",
    ),
    "status": Action(
        forms.StatusForm,
        lambda actor, case, f, key: case_status_change(
            actor=actor, case=case, status=f.cleaned_data["status"]
        ),
        "Status changed.",
    ),
    "assign": Action(
        forms.AssignForm,
        lambda actor, case, f, key: case_assign(
            actor=actor, case=case, assignee=f.cleaned_data["assignee"]
        ),
        "Assignment saved.",
    ),
    "urgent": Action(
        forms.CaseForm,
        lambda actor, case, f, key: case_mark_urgent(actor=actor, case=case, private_key=key),
        "Marked as ongoing: the team is being paged.",
    ),
    "flags": Action(
        forms.FlagsForm,
        lambda actor, case, f, key: case_flags_update(actor=actor, case=case, **f.cleaned_data),
        "Flags saved.",
    ),
    "note": Action(
        forms.NoteForm,
        lambda actor, case, f, key: note_add(
            actor=actor, case=case, private_key=key, text=f.cleaned_data["text"]
        ),
        "Note saved.",
    ),
    "meeting": Action(
        forms.MeetingForm,
        lambda actor, case, f, key: meeting_record(
            actor=actor, case=case, private_key=key, sections=f.cleaned_data
        ),
        "Meeting record saved; the case is triaged.",
    ),
    "decision": Action(
        forms.DecisionForm,
        lambda actor, case, f, key: decision_record(
            actor=actor,
            case=case,
            private_key=key,
            violation=f.cleaned_data["violation"],
            rationale=f.cleaned_data["rationale"],
            responses=f.responses(),
        ),
        "Decision recorded.",
    ),
    "approve": Action(
        forms.ApproveForm,
        lambda actor, case, f, key: decision_approve(
            actor=actor, decision=f.cleaned_data["decision"]
        ),
        "You agreed: the decision is final.",
    ),
    "response-done": Action(
        forms.ResponseDoneForm,
        lambda actor, case, f, key: response_done_set(
            actor=actor, response=f.cleaned_data["response"], done=f.cleaned_data["done"]
        ),
        "Response updated.",
    ),
    "reported-message": Action(
        forms.ReportedMessageForm,
        lambda actor, case, f, key: reported_message_draft(
            actor=actor, case=case, private_key=key, **f.cleaned_data
        ),
        "Message to the reported person saved: sent, or waiting for a second responder.",
    ),
    "reported-approve": Action(
        forms.ReportedApproveForm,
        lambda actor, case, f, key: reported_message_approve(
            actor=actor, message=f.cleaned_data["message"], private_key=key
        ),
        "Approved and sent to the reported person.",
    ),
    "appeal": Action(
        forms.AppealForm,
        lambda actor, case, f, key: appeal_record(
            actor=actor, case=case, private_key=key, statement=f.cleaned_data["statement"]
        ),
        _appeal_recorded,
    ),
}


@never_cache
@staff_view()
@require_http_methods(["POST"])
def case_action(request, organisation, number, action):
    spec = ACTIONS[action]
    case = selectors.case_get_for_responder(
        user=request.user, organisation=organisation, number=number
    )
    private_key = session_private_key(request)
    if private_key is None:
        return login_again(request)
    form = spec.form(request.POST, case=case)
    if form.is_valid():
        try:
            spec.run(request.user, case, form, private_key)
        except ServiceError as e:
            form.add_error(None, str(e))
        else:
            messages.success(request, spec.done if isinstance(spec.done, str) else spec.done(case))
            return redirect("case-detail", organisation.slug, number)
    messages.error(request, form.error_summary())
    return _case_page(
        request, organisation, case, private_key, bound={action.replace("-", "_"): form}, status=400
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
