"""Housekeeping deletes the portal sessions and receipt-renewal links that no
longer work, and keeps every one that still does."""

import os
from datetime import timedelta

import time_machine
from django.utils import timezone

from ombud.lib.housekeeping import housekeeping_run
from ombud.portal.models import PortalSession, ReceiptRenewal
from ombud.portal.services import (
    PORTAL_IDLE,
    portal_session_open,
    portal_session_resume,
    receipt_unlock,
)


def test_idle_portal_sessions_are_deleted_and_live_ones_keep_working(people, submit_report):
    _, receipt = submit_report(people.event_a)
    unlocked = receipt_unlock(organisation=people.org_a, receipt=receipt)
    case, data_key = unlocked.case, unlocked.data_key
    now = timezone.now()

    def opened(ago):
        with time_machine.travel(now - ago, tick=False):
            return portal_session_open(case=case, data_key=data_key)

    idle = opened(PORTAL_IDLE + timedelta(seconds=1))
    at_the_limit = opened(PORTAL_IDLE)
    recent = opened(timedelta(minutes=5))
    long_but_in_use = opened(timedelta(hours=3))
    for minutes_ago in range(160, 0, -20):  # used every 20 minutes since
        with time_machine.travel(now - timedelta(minutes=minutes_ago), tick=False):
            assert portal_session_resume(organisation=people.org_a, cookie=long_but_in_use)

    assert housekeeping_run(now)["portal sessions"] == 1

    assert PortalSession.objects.count() == 3
    with time_machine.travel(now, tick=False):
        assert portal_session_resume(organisation=people.org_a, cookie=idle) is None
        for cookie in (at_the_limit, recent, long_but_in_use):
            assert portal_session_resume(organisation=people.org_a, cookie=cookie)


def test_expired_renewal_links_are_deleted_and_live_ones_kept(people, submit_report):
    case, _ = submit_report(people.event_a)
    now = timezone.now()
    for expires_in in (
        timedelta(days=-1),
        timedelta(seconds=-1),
        timedelta(0),
        timedelta(minutes=29),
    ):
        ReceiptRenewal.objects.create(
            case=case, secret_hash=os.urandom(32), expires_at=now + expires_in
        )

    assert housekeeping_run(now)["receipt renewals"] == 2

    assert sorted(ReceiptRenewal.objects.values_list("expires_at", flat=True)) == [
        now,
        now + timedelta(minutes=29),
    ]
