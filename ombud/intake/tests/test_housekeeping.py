"""Housekeeping forgets a mail taken in after OMBUD_INBOUND_DEDUPE_DAYS; until
then the same mail delivered again makes no second case."""

from datetime import timedelta

import time_machine
from django.core.checks import run_checks
from django.utils import timezone

from ombud.cases.models import Case
from ombud.intake.mailin import mail_receive
from ombud.intake.models import InboundMail
from ombud.intake.tests.conftest import SENDER, TEAM_A
from ombud.lib.housekeeping import housekeeping_run


def report(n: int) -> bytes:
    return (
        f"From: Robin <{SENDER}>\nTo: {TEAM_A}\nSubject: Report {n}\n"
        f"Message-ID: <dedupe-{n}@example.net>\n\nWhat happened, {n}.\n"
    ).encode()


def test_mail_is_remembered_for_the_window_and_then_forgotten(world, settings):
    settings.OMBUD_INBOUND_DEDUPE_DAYS = 30
    now = timezone.now()
    for n, ago in [
        (1, timedelta(days=31)),
        (2, timedelta(days=30, seconds=1)),
        (3, timedelta(days=30)),
        (4, timedelta(days=2)),
    ]:
        with time_machine.travel(now - ago, tick=False):
            assert mail_receive(report(n)).outcome == "case"
    cases = Case.objects.count()
    rows = InboundMail.objects.count()

    assert housekeeping_run(now)["inbound mail dedupe"] == 2

    assert InboundMail.objects.count() == rows - 2
    assert Case.objects.count() == cases  # the cases stay
    with time_machine.travel(now, tick=False):
        for n in (3, 4):
            assert mail_receive(report(n)).duplicate
    assert Case.objects.count() == cases


def test_the_window_is_a_setting(world, settings):
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=10), tick=False):
        mail_receive(report(1))
    assert housekeeping_run(now)["inbound mail dedupe"] == 0
    settings.OMBUD_INBOUND_DEDUPE_DAYS = 7
    assert housekeeping_run(now)["inbound mail dedupe"] == 1


def test_a_window_shorter_than_mail_servers_retry_is_refused(settings):
    settings.OMBUD_INBOUND_DEDUPE_DAYS = 1
    assert "intake.E006" in [e.id for e in run_checks()]
    settings.OMBUD_INBOUND_DEDUPE_DAYS = 7
    assert "intake.E006" not in [e.id for e in run_checks()]
