"""`manage.py smtpd`: mail sent over SMTP with smtplib to the receiver on a
free local port."""

import logging
import signal
import smtplib
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import OperationalError

from ombud.cases.models import Case
from ombud.intake import mailin
from ombud.intake.mailin import MailOutcome
from ombud.intake.management.commands.smtpd import smtpd_controller
from ombud.intake.tests.conftest import USER as TEAM
from ombud.intake.tests.conftest import FakeReceive, subprocess_env
from ombud.intake.tests.test_mail_corpus import case_open
from tests.support.notify import free_port

SECRET = "ZQX-smtp-content-51ab"
KNOWN = {"team@example.org", "conduct@example.org"}  # the fake routing's team addresses


def mail(subject: str = "Report", body: str = f"{SECRET} at the party.") -> bytes:
    return (
        f"From: Reporter <reporter@example.net>\r\n"
        f"To: team@example.org\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{subject}@example.net>\r\n"
        f"\r\n"
        f"{body}\r\n"
    ).encode()


@pytest.fixture
def receive(monkeypatch):
    fake = FakeReceive()
    monkeypatch.setattr(mailin, "mail_receive", fake)
    monkeypatch.setattr(
        mailin, "route_find", lambda recipients: "a route" if recipients[0] in KNOWN else None
    )
    return fake


@pytest.fixture
def smtpd(settings):
    settings.OMBUD_MAIL_INTAKE = "smtp"
    settings.OMBUD_SMTPD_MAX_BYTES = 100_000
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    controller = smtpd_controller(host="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


def send(smtpd, raw: bytes, to=("team@example.org",)):
    with smtplib.SMTP(smtpd.hostname, smtpd.port, timeout=10) as client:
        return client.sendmail("reporter@example.net", list(to), raw)


def test_mail_is_handed_over_with_its_envelope_and_accepted(smtpd, receive):
    raw = mail()
    assert send(smtpd, raw, to=["team@example.org", "conduct@example.org"]) == {}
    assert receive.calls == [(raw, ["team@example.org", "conduct@example.org"])]


def test_a_recipient_no_event_has_is_refused_at_rcpt(smtpd, receive):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(smtpd, mail(), to=["nobody@example.org"])
    assert refused.value.recipients["nobody@example.org"][0] == 550
    assert b"5.1.1" in refused.value.recipients["nobody@example.org"][1]
    assert receive.calls == []


def test_only_known_recipients_are_in_the_envelope(smtpd, receive):
    refused = send(smtpd, mail(), to=["nobody@example.org", "team@example.org"])
    assert refused["nobody@example.org"][0] == 550
    assert receive.calls[0][1] == ["team@example.org"]


def test_a_recipient_that_went_away_before_data_is_refused(smtpd, receive):
    receive.answer = MailOutcome(outcome="rejected", reason=mailin.NO_ROUTE)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(smtpd, mail())
    assert refused.value.smtp_code == 550


def test_unexpected_error_asks_the_sender_to_try_again(smtpd, receive, caplog):
    receive.answer = RuntimeError(f"boom {SECRET}")
    with caplog.at_level(logging.INFO), pytest.raises(smtplib.SMTPDataError) as refused:
        send(smtpd, mail())
    assert refused.value.smtp_code == 451
    assert b"4.3.0" in refused.value.smtp_error
    assert "RuntimeError" in caplog.text
    assert SECRET not in caplog.text


def test_database_down_is_a_temporary_failure_too(smtpd, receive):
    receive.answer = OperationalError("database is locked")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(smtpd, mail())
    assert refused.value.smtp_code == 451


def test_mail_that_cannot_be_processed_is_refused_for_good(smtpd, receive):
    receive.answer = MailOutcome(outcome="rejected", quarantine=True, reason="empty")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(smtpd, mail())
    assert refused.value.smtp_code == 554


def test_other_outcomes_are_accepted(smtpd, receive):
    for answer in (
        MailOutcome(outcome="ignored", reason="auto-reply"),
        MailOutcome(outcome="case", case_id=1, reason="duplicate"),
        MailOutcome(outcome="message", case_id=1),
    ):
        receive.answer = answer
        assert send(smtpd, mail()) == {}


def test_size_is_announced_and_larger_mail_refused_before_it_is_read(smtpd, receive):
    with smtplib.SMTP(smtpd.hostname, smtpd.port, timeout=10) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == "100000"
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        send(smtpd, mail(body="x" * 200_000))
    assert refused.value.smtp_code == 552
    assert receive.calls == []


def test_the_command_refuses_to_start_when_smtp_intake_is_off(settings):
    settings.OMBUD_MAIL_INTAKE = "imap"
    with pytest.raises(CommandError, match="OMBUD_MAIL_INTAKE=smtp"):
        call_command("smtpd")


# --- end to end, with the real mail_receive ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_mail_becomes_a_case_before_the_250(team, smtpd):
    assert send(smtpd, mail(), to=[TEAM]) == {}

    case = Case.objects.get()
    assert (case.organisation, case.channel) == (team.org_a, "email")
    assert SECRET in case_open(case, team.kit_a).report["description"]


@pytest.mark.django_db(transaction=True)
def test_the_team_address_is_checked_at_rcpt(team, smtpd):
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(smtpd, mail(), to=["someone-else@example.org"])
    assert send(smtpd, mail(), to=["TEAM@example.org"]) == {}
    assert Case.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_mail_sent_twice_is_one_case(team, smtpd):
    send(smtpd, mail(), to=[TEAM])
    send(smtpd, mail(), to=[TEAM])
    assert Case.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_empty_mail_bounces_to_its_sender(team, smtpd):
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(smtpd, b"From: someone@example.net\r\nTo: team@example.org\r\n\r\n", to=[TEAM])
    assert refused.value.smtp_code == 554
    assert not Case.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_command_receives_until_it_is_stopped(team):
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - this project's manage.py
        [sys.executable, "manage.py", "smtpd", "--port", str(port)],
        cwd=settings.BASE_DIR,
        env=subprocess_env(OMBUD_MAIL_INTAKE="smtp"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert server.stdout.readline() == f"receiving mail on 127.0.0.1:{port}\n".encode()
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            assert client.sendmail("reporter@example.net", [TEAM], mail()) == {}
        assert Case.objects.count() == 1
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors.decode()
    assert b"reporter@example.net" not in errors
