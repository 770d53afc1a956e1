from functools import wraps

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect

from ombud.accounts.mfa import mfa_enabled, session_used_mfa
from ombud.orgs import selectors as org_selectors


def staff_view(permission: str = "orgs.view_staff_area"):
    """Decorate a staff view taking `org_slug`: the caller must be logged in
    and a member of that organisation (else 404, so other organisations'
    staff learn nothing), and hold `permission` on it (else 403). When the
    organisation requires two-factor authentication, a member without it is
    sent to set it up first. The view
    receives the Organisation instead of the slug."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, org_slug, *args, **kwargs):
            organisation = org_selectors.organisation_get(slug=org_slug)
            if not request.user.has_perm("orgs.view_staff_area", organisation):
                raise Http404("No such organisation.")
            if organisation.require_mfa and (refused := _mfa_missing(request, organisation)):
                return refused
            if not request.user.has_perm(permission, organisation):
                raise PermissionDenied("Only the chair can do this.")
            return view(request, organisation, *args, **kwargs)

        return wrapper

    return decorator


def _mfa_missing(request, organisation):
    """For an organisation requiring two-factor authentication: None when this
    session used a second factor the person still has; else where to send
    them (set one up, or log in again with it)."""
    has_mfa = mfa_enabled(request.user)
    if has_mfa and session_used_mfa(request):
        return None
    if has_mfa:
        # A session from before the authenticator was set up.
        logout(request)
        messages.info(
            request,
            f"{organisation.name} requires two-factor authentication: please "
            "log in again with your password and your second factor.",
        )
        return redirect_to_login(request.get_full_path())
    messages.warning(
        request,
        f"{organisation.name} requires two-factor authentication. Set up an "
        "authenticator app or a security key to continue.",
    )
    return redirect("mfa_index")
