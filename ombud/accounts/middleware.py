"""Staff session limits (DESIGN §5, issue 4): 2 hours idle is the session's
age (SESSION_COOKIE_AGE), renewed by activity; 12 hours after logging in, the
session ends however active it is."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout

LOGIN_AT = "ombud_login_at"
SEEN_AT = "ombud_seen_at"
# Activity renews the idle limit by re-saving the session; once a minute is
# precise enough and spares a database write on every request.
RENEW_EVERY = 60


def session_login_mark(sender, request, user, **kwargs):
    """user_logged_in receiver: when this session began."""
    request.session[LOGIN_AT] = request.session[SEEN_AT] = int(time.time())


class SessionLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            login_at = request.session.get(LOGIN_AT)
            if not isinstance(login_at, int) or now - login_at > settings.OMBUD_SESSION_MAX_AGE:
                logout(request)
                messages.info(
                    request, "Your session has ended after 12 hours. Please log in again."
                )
            elif now - request.session.get(SEEN_AT, 0) >= RENEW_EVERY:
                request.session[SEEN_AT] = now  # saved with a fresh expiry
        return self.get_response(request)
