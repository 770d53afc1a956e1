"""Two-factor authentication with django-allauth's MFA (TOTP, WebAuthn,
recovery codes).

Our login view checks the password and unlocks the private key (only it sees
the password). With an authenticator set up, it does not log in yet: it keeps
the sealed key in the still-anonymous session, remembers who passed the
password step, and sends the person here for the second factor. Only then is
the session logged in. allauth provides the authenticators, their forms and
their management pages (`/accounts/mfa/`)."""

import time

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.base.forms import AuthenticateForm
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from allauth.mfa.webauthn.forms import AuthenticateWebAuthnForm
from allauth.mfa.webauthn.internal.flows import auth as webauthn_auth
from django.contrib.auth import get_user_model

PENDING = "ombud_mfa_pending"
PENDING_SECONDS = 5 * 60
SECOND_FACTORS = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]


class AccountAdapter(DefaultAccountAdapter):
    """Accounts come only from invitations: allauth never signs anyone up."""

    def is_open_for_signup(self, request):
        return False


def mfa_enabled(user) -> bool:
    return is_mfa_enabled(user, SECOND_FACTORS)


def password_step_record(request, user) -> None:
    """Tell allauth the password was just checked, so its pages that ask for
    recent authentication (adding an authenticator) do not ask again for the
    next five minutes."""
    record_authentication(request, user, method="password", reauthenticated=True)


def mfa_pending_start(request, user, *, next_url: str) -> None:
    password_step_record(request, user)
    request.session[PENDING] = {"user": user.pk, "at": time.time(), "next": next_url}


def mfa_pending(request) -> tuple[object, str] | tuple[None, None]:
    """(user, next URL) of a password step passed in this session in the last
    five minutes; (None, None) otherwise."""
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None, None
    user = get_user_model().objects.filter(pk=pending.get("user"), is_active=True).first()
    return user, pending.get("next") or ""


def mfa_pending_end(request) -> None:
    request.session.pop(PENDING, None)


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
