"""Giving access to cases from a responder's own key: the grant form on a
case, and the list of members waiting for access after a password reset."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ombud.accounts.keys import session_private_key
from ombud.accounts.views import login_again
from ombud.cases import selectors
from ombud.cases.services import grants
from ombud.lib.errors import ServiceError
from ombud.orgs.decorators import staff_view


class GrantForm(forms.Form):
    """Whom to give access and to which cases; nothing else is read."""

    member = forms.ModelChoiceField(  # type: ignore[var-annotated]
        queryset=None,
        label="Team member",
        empty_label="Choose a member",
        error_messages={"invalid_choice": "Choose a member of the team who has set a password."},
    )
    scope = forms.ChoiceField(
        choices=grants.SCOPES,
        initial=grants.SCOPE_CASE,
        widget=forms.RadioSelect,
        label="Cases",
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = grants.grantable_members(organisation=organisation)  # type: ignore[attr-defined]


@never_cache
@staff_view()
@require_http_methods(["GET", "HEAD", "POST"])
def case_grant(request, organisation, number):
    case = selectors.case_get_for_responder(
        user=request.user, organisation=organisation, number=number
    )
    form = GrantForm(request.POST or None, organisation=organisation)
    status = 200
    if request.method == "POST":
        private_key = session_private_key(request)
        if private_key is None:
            return login_again(request)
        if form.is_valid():
            grantee = form.cleaned_data["member"]
            scope = form.cleaned_data["scope"]
            try:
                result = grants.access_grant(
                    actor=request.user,
                    private_key=private_key,
                    grantee=grantee,
                    cases=grants.cases_in_scope(actor=request.user, case=case, scope=scope),
                    scope=scope,
                )
            except ServiceError as e:
                form.add_error(None, str(e))
            else:
                messages.success(request, result.summary(grantee))
                if form.cleaned_data["next"] == "pending":
                    return redirect("access-pending", organisation.slug)
                return redirect("case-detail", organisation.slug, number)
        status = 400
    return render(
        request,
        "cases/access/grant.html",
        {
            "organisation": organisation,
            "case": case,
            "form": form,
            "exclusions": selectors.case_exclusions(case=case),
            "team": selectors.case_team_with_access(case=case),
        },
        status=status,
    )


@never_cache
@staff_view()
@require_http_methods(["GET", "HEAD"])
def access_pending(request, organisation):
    """Members waiting for access to cases this responder holds; one click each."""
    return render(
        request,
        "cases/access/pending.html",
        {
            "organisation": organisation,
            "pending": grants.pending_for_holder(user=request.user, organisation=organisation),
            "is_chair": request.user.has_perm("orgs.use_recovery_kit", organisation),
        },
    )
