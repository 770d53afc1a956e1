"""Two-factor authentication with django-allauth's MFA (TOTP, WebAuthn,
recovery codes).

Our login view checks the password and unlocks the private key (only it sees
the password). With an authenticator set up, it does not log in yet: it keeps
the sealed key in the still-anonymous session, remembers who passed the
password step, and sends the person here for the second factor. Only then is
the session logged in. allauth provides the authenticators, their forms and
their management pages (`/accounts/mfa/`)."""

import hashlib
import time
from dataclasses import dataclass
from functools import wraps

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import (
    get_authentication_records,
    record_authentication,
)
from allauth.core import context
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.base.forms import AuthenticateForm, ReauthenticateForm
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from allauth.mfa.webauthn.forms import (
    AddWebAuthnForm,
    AuthenticateWebAuthnForm,
    ReauthenticateWebAuthnForm,
)
from allauth.mfa.webauthn.internal.flows import auth as webauthn_auth
from django import forms
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

from ombud.accounts.keys import SESSION_FIELD
from ombud.accounts.models import User
from ombud.lib.throttle import client_ip

PENDING = "ombud_mfa_pending"
PENDING_SECONDS = 5 * 60
# What makes two-factor sign-in "on" for an account ...
SECOND_FACTORS = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]
# ... and what a session may have used as its second factor: a recovery code
# stands in for the phone or key it replaces.
USED_FACTORS = [*SECOND_FACTORS, Authenticator.Type.RECOVERY_CODES]
# A code of the authenticator app is valid for its own half minute and the
# neighbouring ones (MFA_TOTP_TOLERANCE, for clock drift): once used, it is
# refused for all of that time (RFC 6238 §5.2).
CODE_VALID_SECONDS = (2 * mfa_settings.TOTP_TOLERANCE + 1) * mfa_settings.TOTP_PERIOD
# allauth's limit on wrong codes ("login_failed": 5 in 5 minutes per account).
LOCKOUT_MINUTES = 5

EXPIRED = (
    "Your sign-in waited more than 5 minutes for the second step: please enter your password again."
)
KEY_REFUSED = (
    "Your security key was not accepted. Try again, or use another key or a recovery code."
)


class AccountAdapter(DefaultAccountAdapter):
    """Accounts come only from invitations: allauth never signs anyone up."""

    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "too_many_login_attempts": (
            f"Too many failed attempts: codes for this account are refused for "
            f"{LOCKOUT_MINUTES} minutes. Wait, then try again."
        ),
    }

    def is_open_for_signup(self, request):
        return False

    def get_client_ip(self, request):
        return client_ip(request)


class MFAAdapter(DefaultMFAAdapter):
    """Authenticators show "Ombud" as the site a key is for, not the host
    and port of the request."""

    def get_public_key_credential_rp_entity(self) -> dict[str, str]:
        return {"id": context.request.get_host().partition(":")[0], "name": "Ombud"}


class _CodeReplayMixin:
    """allauth remembers a used code for one half minute only, though with the
    drift tolerance it stays valid for three: it is remembered here, in the
    shared cache, for as long as it could be valid."""

    user: User
    authenticator: Authenticator

    def clean_code(self) -> str:
        code = "".join(str(self.cleaned_data.get("code", "")).split())  # type: ignore[attr-defined]
        key = _code_used_key(self.user, code)
        if cache.get(key):
            raise forms.ValidationError(
                "This code was already used. Wait for the next one from your app."
            )
        code = super().clean_code()  # type: ignore[misc]
        if self.authenticator.type == Authenticator.Type.TOTP:
            cache.set(key, True, timeout=CODE_VALID_SECONDS)
        return code


def _code_used_key(user: User, code: str) -> str:
    # A keyed digest: the cache table holds no codes.
    digest = hashlib.sha256(f"{user.pk}:{code}".encode()).hexdigest()
    return f"ombud:totp-used:{user.pk}:{digest}"


# What allauth's security-key forms let through from an answer that is not
# well-formed (an answer is the browser's, so anyone's): refused like a wrong key.
_MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class _KeyAnswerMixin:
    def clean_credential(self) -> Authenticator:
        try:
            return super().clean_credential()  # type: ignore[misc]
        except _MALFORMED:
            raise forms.ValidationError(KEY_REFUSED) from None


class KeyForm(_KeyAnswerMixin, AuthenticateWebAuthnForm):
    """The second step with a security key."""


class ReauthenticateKeyForm(_KeyAnswerMixin, ReauthenticateWebAuthnForm):
    """allauth's "confirm it is you" with a security key."""


class AddKeyForm(AddWebAuthnForm):
    UNREADABLE = "The security key's answer could not be read. Try adding it again."

    def clean(self) -> dict:
        # allauth checks only an answer that is truthy: 0 or false would be
        # stored as a key (and break the pages that read the keys).
        if "credential" in self.cleaned_data and not isinstance(
            self.cleaned_data["credential"], dict
        ):
            raise forms.ValidationError(self.UNREADABLE)
        try:
            return super().clean()
        except _MALFORMED:
            raise forms.ValidationError(self.UNREADABLE) from None


class CodeForm(_CodeReplayMixin, AuthenticateForm):
    """The second step's code form (MFA_FORMS["authenticate"])."""


class ReauthenticateCodeForm(_CodeReplayMixin, ReauthenticateForm):
    """allauth's "confirm it is you" form (MFA_FORMS["reauthenticate"])."""


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


def mfa_pending_refusal(request: HttpRequest) -> str:
    """Why there is no password step to finish, in words for the login page."""
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict):
        return "Please log in again."
    if time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return EXPIRED
    return "Your password changed since you entered it: please log in again."


def mfa_pending_cancel(request: HttpRequest) -> None:
    request.session.pop(PENDING, None)


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
    return any(r.get("method") == "mfa" and r.get("type") in USED_FACTORS for r in records)


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
    code_form = CodeForm(user=user, data=None if posted_webauthn else data)
    webauthn_form = KeyForm(user=user, data=data if posted_webauthn else None) if webauthn else None
    posted = None
    if data is not None:
        posted = webauthn_form if posted_webauthn else code_form
    return code_form, webauthn_form, posted


def webauthn_request_options(user) -> dict:
    return {"request_options": webauthn_auth.begin_authentication(user)}


def mfa_has_app(user: User) -> bool:
    """Whether the person has an authenticator app (so a 6-digit code to give)."""
    return is_mfa_enabled(user, [Authenticator.Type.TOTP])
