"""What logging in leaves behind is pruned by the housekeeping run."""

from datetime import timedelta

from axes.models import AccessAttempt
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from conftest import browser
from ombud.accounts.housekeeping import failed_logins_prune, sessions_prune


def test_expired_sessions_go_and_live_ones_stay(people):
    client = browser(people.bob)  # a live session
    old = SessionStore()
    old["x"] = 1
    old.create()
    Session.objects.filter(session_key=old.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert sessions_prune(timezone.now()) == 1
    assert not Session.objects.filter(session_key=old.session_key).exists()
    assert client.get("/org-a/staff/").status_code == 200


def test_failed_logins_go_once_they_lock_nobody_out(people, settings):
    now = timezone.now()
    for minutes in (1, 14, 16, 60):
        attempt = AccessAttempt.objects.create(
            username="bob@a.example",
            ip_address=f"192.0.2.{minutes}",
            user_agent="",
            http_accept="",
            path_info="/accounts/login/",
            failures_since_start=1,
        )
        AccessAttempt.objects.filter(pk=attempt.pk).update(
            attempt_time=now - timedelta(minutes=minutes)
        )
    assert failed_logins_prune(now) == 2
    assert AccessAttempt.objects.count() == 2
