"""The housekeeping steps for what logging in leaves behind (ombud.lib.housekeeping)."""

from datetime import datetime

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session

from ombud.lib.housekeeping import housekeeping_step


@housekeeping_step("expired login sessions")
def sessions_prune(now: datetime) -> int:
    """Sessions past their expiry (Django's `clearsessions`): they log nobody in."""
    return Session.objects.filter(expire_date__lt=now).delete()[0]


@housekeeping_step("failed logins")
def failed_logins_prune(now: datetime) -> int:
    """Failed logins older than the lockout's cool-off: they lock nobody out any more."""
    return AccessAttempt.objects.filter(attempt_time__lt=now - settings.AXES_COOLOFF_TIME).delete()[
        0
    ]
