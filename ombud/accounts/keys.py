"""The responder's private key during a logged-in session (DESIGN §5).

At login the key is unlocked with the password, then sealed under a random key
that lives only in its own HttpOnly, SameSite=Strict cookie. The session store
holds just the sealed box, so the session table alone opens nothing."""

import base64
import secrets

from django.conf import settings

from ombud.lib import crypto

SESSION_FIELD = "ombud_sealed_private_key"


def session_key_store(request, response, private_key: bytes) -> None:
    request.session[SESSION_FIELD] = session_key_seal(response, private_key)


def session_key_seal(response, private_key: bytes) -> str:
    """The private key sealed under a new cookie key, which `response` sets;
    the caller decides where in the session the sealed box goes."""
    cookie_key = secrets.token_bytes(crypto.KEY_BYTES)
    sealed = base64.b64encode(crypto.secretbox_seal(cookie_key, private_key)).decode()
    response.set_cookie(
        settings.SESSION_KEY_COOKIE,
        base64.urlsafe_b64encode(cookie_key).decode(),
        # The session's absolute limit: the idle limit lives server-side.
        max_age=settings.OMBUD_SESSION_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )
    return sealed


def session_private_key(request) -> bytes | None:
    """The unlocked private key, or None when this browser cannot open it."""
    sealed = request.session.get(SESSION_FIELD)
    cookie = request.COOKIES.get(settings.SESSION_KEY_COOKIE)
    if not sealed or not cookie:
        return None
    try:
        return crypto.secretbox_open(base64.urlsafe_b64decode(cookie), base64.b64decode(sealed))
    except (crypto.DecryptionError, ValueError):
        return None


def session_key_forget(response) -> None:
    response.delete_cookie(settings.SESSION_KEY_COOKIE, samesite="Strict")
