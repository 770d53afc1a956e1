"""Two-factor authentication with django-allauth's MFA (TOTP, WebAuthn,
recovery codes).

Our login view checks the password and unlocks the private key (only it sees
the password). With an authenticator set up, it does not log in yet: it keeps
the sealed key in the still-anonymous session, remembers who passed the
password step, and sends the person here for the second factor. Only then is
the session logged in. allauth provides the authenticators, their forms and
their management pages (`/accounts/mfa/`)."""

import time
from dataclasses import dataclass
from functools import wraps

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import (
    get_authentication_records,
    record_authentication,
)
from allauth.mfa.base.forms import AuthenticateForm
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from allauth.mfa.webauthn.forms import AuthenticateWebAuthnForm
from allauth.mfa.webauthn.internal.flows import auth as webauthn_auth
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

from ombud.accounts.keys import SESSION_FIELD
from ombud.accounts.models import User
from ombud.lib.throttle import client_ip

PENDING = "ombud_mfa_pending"
PENDING_SECONDS = 5 * 60
SECOND_FACTORS = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]


class AccountAdapter(DefaultAccountAdapter):
    """Accounts come only from invitations: allauth never signs anyone up."""

    def is_open_for_signup(self, request):
        return False

    def get_client_ip(self, request):
        return client_ip(request)


def mfa_enabled(user) -> bool:
    return is_mfa_enabled(user, SECOND_FACTORS)


def password_step_record(request, user) -> None:
    """Tell allauth the password was just checked, so its pages that ask for
    recent authentication (adding an authenticator) do not ask again for the
    next five minutes."""
    record_authentication(request, user, method="password", reauthenticated=True)


def mfa_pending_start(request, user, *, next_url: str, sealed_key: str | None) -> None:
    """The password step passed: remember who, when, with which password, and
    their private key sealed for this browser. The key joins the session
    only once the second factor is given (`mfa_pending_finish`)."""
    password_step_record(request, user)
    request.session.pop(SESSION_FIELD, None)  # nothing of an earlier visitor
    request.session[PENDING] = {
        "user": user.pk,
        "at": time.time(),
        "next": next_url,
        # A password changed or reset since then ends the step.
        "auth_hash": user.get_session_auth_hash(),
        "sealed_key": sealed_key,
    }


@dataclass(frozen=True)
class PasswordStep:
    """Who passed the password step of this login, and where they go next."""

    user: User
    next_url: str


def mfa_pending(request: HttpRequest) -> PasswordStep | None:
    """(user, next URL) of a password step passed in this session in the last
    five minutes with the user's current password, or None."""
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = User.objects.filter(pk=pending.get("user") or 0, is_active=True).first()
    if user is None or not constant_time_compare(
        user.get_session_auth_hash(), pending.get("auth_hash") or ""
    ):
        return None
    return PasswordStep(user, pending.get("next") or "")


def mfa_pending_take(request) -> dict:
    return request.session.pop(PENDING, None) or {}


def mfa_pending_finish(request, pending: dict) -> None:
    """The second factor was given and the session logged in: the sealed key
    of the password step joins it."""
    if pending.get("sealed_key"):
        request.session[SESSION_FIELD] = pending["sealed_key"]


def session_used_mfa(request) -> bool:
    """Whether this session was opened (or confirmed) with a second factor:
    owning an authenticator is not enough, a session from before it was set
    up has not used it."""
    records = get_authentication_records(request, request.user)
    return any(r.get("method") == "mfa" and r.get("type") in SECOND_FACTORS for r in records)


def setup_view(view, authenticator_type):
    """One of allauth's pages that sets up an authenticator app or a security
    key: on success, setting it up proved the factor, so this session counts
    as having used it (see session_used_mfa). A view wrapper rather than the
    authenticator_added signal: that one fires on commit, where a session
    change may be too late to be saved."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated or request.method != "POST":
            return view(request, *args, **kwargs)
        authenticators = Authenticator.objects.filter(user=user, type=authenticator_type)
        before = set(authenticators.values_list("pk", flat=True))
        response = view(request, *args, **kwargs)
        for authenticator in authenticators.exclude(pk__in=before):
            record_authentication(
                request, user, method="mfa", id=authenticator.pk, type=authenticator.type
            )
        return response

    return wrapped


def mfa_forms(request, user):
    """The code form (TOTP or a recovery code) and, with a security key, the
    WebAuthn form; the one that was posted is bound."""
    data = request.POST if request.method == "POST" else None
    webauthn = is_mfa_enabled(user, [Authenticator.Type.WEBAUTHN])
    posted_webauthn = data is not None and "credential" in data
    code_form = AuthenticateForm(user=user, data=None if posted_webauthn else data)
    webauthn_form = (
        AuthenticateWebAuthnForm(user=user, data=data if posted_webauthn else None)
        if webauthn
        else None
    )
    posted = None
    if data is not None:
        posted = webauthn_form if posted_webauthn else code_form
    return code_form, webauthn_form, posted


def webauthn_request_options(user) -> dict:
    return {"request_options": webauthn_auth.begin_authentication(user)}
