"""One-time links sent by email (an invitation, a new receipt). A link's
token sits in its URL path, and so in the access log of every proxy in front
of the app. The link's first request moves the token into a cookie for the
link's own path and redirects to the same page without it, as Django's
password reset does with its session: the form, its POST and anything the
page loads carry no token in the URL. The cookie holds the token for the
browser only; nothing stores it (the server keeps only its keyed hash)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def link_token_exchange(*, to: str, cookie: str, path: str, token: str, max_age: int):
    """The answer to a link's first request: to `to`, the token in a cookie.
    SameSite=Lax, so that it comes along on the redirect of a link opened
    from a mail program (Strict would drop it on that first navigation)."""
    response = redirect(to)
    response.set_cookie(
        cookie,
        token,
        max_age=max_age,
        path=path,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def link_token(request: HttpRequest, *, cookie: str, token: str | None = None) -> str | None:
    """The token of this request: from the URL (a client that posts to the
    link itself) or from the cookie its first request set."""
    return token or request.COOKIES.get(cookie)


def link_token_forget(response: HttpResponse, *, cookie: str, path: str) -> None:
    response.delete_cookie(cookie, path=path, samesite="Lax")
