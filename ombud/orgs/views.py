from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ombud.accounts.keys import session_key_store
from ombud.lib.errors import ServiceError
from ombud.lib.links import link_token, link_token_exchange, link_token_forget
from ombud.orgs import selectors
from ombud.orgs.decorators import staff_view
from ombud.orgs.forms import (
    EventForm,
    InvitationAcceptForm,
    MemberAddForm,
    MemberRoleForm,
    OrganisationSettingsForm,
    ResponseTypeForm,
)
from ombud.orgs.models import Invitation
from ombud.orgs.services import (
    INVITATION_INVALID,
    event_create,
    event_update,
    invitation_accept,
    invitation_account,
    invitation_get,
    invitation_join,
    member_add,
    member_mfa_reset,
    member_role_change,
    organisation_settings_update,
    response_type_create,
    response_type_update,
)


@staff_view("orgs.manage_events")
@require_http_methods(["GET", "HEAD"])
def event_list(request, organisation):
    events = selectors.events_for_staff(organisation=organisation)
    return render(request, "orgs/event_list.html", {"organisation": organisation, "events": events})


@staff_view("orgs.manage_events")
@require_http_methods(["GET", "HEAD", "POST"])
def event_edit(request, organisation, slug=None):
    event = selectors.event_get_for_staff(organisation=organisation, slug=slug) if slug else None
    form = EventForm(request.POST or None, instance=event, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            if event is None:
                saved = event_create(
                    actor=request.user, organisation=organisation, **form.cleaned_data
                )
                message = f"Event “{saved.name}” created."
            else:
                saved = event_update(
                    actor=request.user,
                    event=selectors.event_get_for_staff(organisation=organisation, slug=slug),
                    **form.cleaned_data,
                )
                message = f"Event “{saved.name}” saved."
        except ValidationError as e:
            # The model's own checks (e.g. reserved slugs), run by the service.
            form.add_error(None, e)
        else:
            messages.success(request, message)
            return redirect("event-list", organisation.slug)
    return render(
        request,
        "orgs/event_form.html",
        {"organisation": organisation, "form": form, "event": event},
        status=400 if form.errors else 200,
    )


@staff_view("orgs.manage_team")
@require_http_methods(["GET", "HEAD"])
def team(request, organisation):
    return render(
        request,
        "orgs/team.html",
        {
            "organisation": organisation,
            "members": selectors.members(organisation=organisation),
            "mfa_users": selectors.members_with_mfa(organisation=organisation),
            "invitations": Invitation.objects.filter(organisation=organisation).order_by("email"),
            "now": timezone.now(),
        },
    )


@never_cache
@staff_view("orgs.manage_team")
@require_http_methods(["GET", "HEAD", "POST"])
def member_add_view(request, organisation):
    form = MemberAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = member_add(
                actor=request.user, organisation=organisation, **form.cleaned_data
            )
        except ServiceError as e:
            form.add_error("email", str(e))
        else:
            return render(
                request,
                "orgs/member_added.html",
                {"organisation": organisation, "invitation": invitation},
            )
    return render(
        request,
        "orgs/member_add.html",
        {"organisation": organisation, "form": form},
        status=400 if form.errors else 200,
    )


@staff_view("orgs.manage_team")
@require_http_methods(["POST"])
def member_role(request, organisation, pk):
    membership = selectors.member_get(organisation=organisation, pk=pk)
    form = MemberRoleForm(request.POST, instance=membership)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect("team", organisation.slug)
    try:
        member_role_change(
            actor=request.user, membership=membership, role=form.cleaned_data["role"]
        )
    except ServiceError as e:
        messages.error(request, str(e))
    else:
        messages.success(
            request, f"{membership.user} is now {membership.get_role_display().lower()}."
        )
    return redirect("team", organisation.slug)


@staff_view("orgs.manage_catalog")
@require_http_methods(["GET", "HEAD", "POST"])
def catalog(request, organisation):
    form = ResponseTypeForm(request.POST or None, initial={"severity": 1})
    if request.method == "POST" and form.is_valid():
        response_type = response_type_create(
            actor=request.user,
            organisation=organisation,
            name=form.cleaned_data["name"],
            severity=form.cleaned_data["severity"],
        )
        messages.success(request, f"“{response_type}” added to the catalog.")
        return redirect("catalog", organisation.slug)
    rows = [
        (rt, ResponseTypeForm(instance=rt, prefix=f"rt{rt.pk}"))
        for rt in selectors.response_types(organisation=organisation)
    ]
    return render(
        request,
        "orgs/catalog.html",
        {"organisation": organisation, "form": form, "rows": rows},
        status=400 if form.errors else 200,
    )


@staff_view("orgs.manage_catalog")
@require_http_methods(["POST"])
def catalog_edit(request, organisation, pk):
    response_type = selectors.response_type_get(organisation=organisation, pk=pk)
    form = ResponseTypeForm(request.POST, instance=response_type, prefix=f"rt{pk}")
    if not form.is_valid():
        messages.error(
            request, "Not saved: " + " ".join(str(e) for errs in form.errors.values() for e in errs)
        )
        return redirect("catalog", organisation.slug)
    response_type_update(actor=request.user, response_type=response_type, **form.cleaned_data)
    messages.success(request, f"“{response_type}” saved.")
    return redirect("catalog", organisation.slug)


@staff_view("orgs.manage_settings")
@require_http_methods(["GET", "HEAD", "POST"])
def organisation_settings(request, organisation):
    form = OrganisationSettingsForm(request.POST or None, instance=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            organisation_settings_update(
                actor=request.user, organisation=organisation, **form.cleaned_data
            )
        except ServiceError as e:
            form.add_error("require_mfa", str(e))
        else:
            messages.success(request, "Settings saved.")
            return redirect("organisation-settings", organisation.slug)
    return render(
        request,
        "orgs/settings.html",
        {"organisation": organisation, "form": form},
        status=400 if form.errors else 200,
    )


@staff_view("orgs.manage_team")
@require_POST
def member_mfa_reset_view(request, organisation, pk):
    """Remove a member's authenticators (lost device and recovery codes)."""
    membership = selectors.member_get(organisation=organisation, pk=pk)
    try:
        member_mfa_reset(actor=request.user, membership=membership)
    except ServiceError as e:
        messages.error(request, str(e))
        return redirect("team", organisation.slug)
    messages.success(
        request,
        f"Two-factor authentication of {membership.user} was reset. They log in with their "
        "password and set up a new authenticator.",
    )
    return redirect("team", organisation.slug)


@login_required
@require_http_methods(["GET", "HEAD"])
def staff_home(request):
    """Send a staff member to their organisation, or let them pick one."""
    memberships = list(selectors.memberships_of(user=request.user))
    if len(memberships) == 1:
        return redirect("dashboard", memberships[0].organisation.slug)
    if not memberships:
        messages.info(request, "Your account is not part of any organisation yet.")
    return render(request, "accounts/staff_home.html", {"memberships": memberships})


INVITATION_COOKIE = "ombud_invitation"
INVITATION_PATH = "/accounts/invitation/"


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def invitation_accept_view(request, token=None):
    """The emailed link (`token`) is answered with a redirect to the same page
    without it (ombud.lib.links); the form lives at that token-free address."""
    if token is not None and request.method != "POST" and invitation_get(token=token):
        return link_token_exchange(
            to=reverse("invitation-accept-form"),
            cookie=INVITATION_COOKIE,
            path=INVITATION_PATH,
            token=token,
            max_age=3600,
        )
    token = link_token(request, cookie=INVITATION_COOKIE, token=token)
    invitation = invitation_get(token=token)
    if invitation is None:
        return render(
            request,
            "accounts/invitation_invalid.html",
            {"message": INVITATION_INVALID},
            status=404,
        )
    if invitation_account(invitation=invitation) is not None:
        return _invitation_join(request, token, invitation)
    form = InvitationAcceptForm(
        request.POST if request.method == "POST" else None, email=invitation.email
    )
    if request.method == "POST" and form.is_valid():
        try:
            joined = invitation_accept(
                token=token or "", password=form.cleaned_data["new_password1"]
            )
        except ServiceError as e:
            form.add_error(None, str(e))
        except ValidationError as e:
            form.add_error("new_password1", e)
        else:
            auth_login(request, joined.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                f"Welcome to the team of {invitation.organisation.name}. You see a case once "
                "someone who holds it gives you access.",
            )
            response = redirect("staff-home")
            session_key_store(request, response, joined.private_key)
            link_token_forget(response, cookie=INVITATION_COOKIE, path=INVITATION_PATH)
            return response
    return render(
        request,
        "accounts/invitation_accept.html",
        {"form": form, "invitation": invitation},
        status=400 if form.errors else 200,
    )


def _invitation_join(request, token, invitation):
    """The invited address has an account: its owner joins by logging in and
    accepting; nobody else can, and no password or key is made."""
    user = request.user
    mine = user.is_authenticated and user.email.lower() == invitation.email.lower()
    if request.method == "POST" and mine:
        try:
            invitation_join(token=token, actor=user)
        except ServiceError as e:
            return render(
                request, "accounts/invitation_invalid.html", {"message": str(e)}, status=404
            )
        messages.success(
            request,
            f"You joined the team of {invitation.organisation.name}. You see a case once "
            "someone who holds it gives you access.",
        )
        return redirect("dashboard", invitation.organisation.slug)
    refused = request.method == "POST" or (user.is_authenticated and not mine)
    return render(
        request,
        "accounts/invitation_join.html",
        {"invitation": invitation, "mine": mine, "next": request.path},
        status=403 if refused else 200,
    )
