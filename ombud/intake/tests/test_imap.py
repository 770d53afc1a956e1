"""The IMAP poller against a real Dovecot server (see conftest.py)."""

import logging
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from ombud.cases.models import Case
from ombud.intake import mailin
from ombud.intake.imap import imap_poll
from ombud.intake.mailin import MailOutcome
from ombud.intake.models import InboundMail
from ombud.intake.tasks import mail_poll, mail_poll_schedule
from ombud.intake.tests.conftest import subprocess_env
from ombud.intake.tests.test_mail_corpus import case_open
from tests.support.notify import free_port

SECRET = "ZQX-imap-content-7c1d"  # report text: must never reach a log


def mail(subject: str, body: str = f"{SECRET} happened in hall B.") -> bytes:
    return (
        f"From: Reporter <reporter@example.net>\r\n"
        f"To: team@example.org\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '-')}@example.net>\r\n"
        f"Date: Tue, 25 Nov 2025 10:00:00 +0000\r\n"
        f"\r\n"
        f"{body}\r\n"
    ).encode()


class FakeReceive:
    """Stands in for mail_receive: records what it is given; `answers` maps a
    subject to an outcome or an exception to raise."""

    def __init__(self, answers=None):
        self.received: list[bytes] = []
        self.answers = answers or {}

    def __call__(self, raw, *, envelope_recipients=None):
        self.received.append(raw)
        for subject, answer in self.answers.items():
            if f"Subject: {subject}\r\n".encode() in raw:
                if isinstance(answer, Exception):
                    raise answer
                return answer
        return MailOutcome(outcome="case", case_id=len(self.received))

    @property
    def subjects(self):
        return [raw.split(b"Subject: ")[1].split(b"\r\n")[0].decode() for raw in self.received]


@pytest.fixture
def receive(monkeypatch):
    fake = FakeReceive()
    monkeypatch.setattr(mailin, "mail_receive", fake)
    return fake


def test_new_mail_is_handed_over_as_it_is_and_then_deleted(imap_settings, dovecot, receive):
    raw = mail("first")
    dovecot.append(raw)

    result = imap_poll()

    assert (result.taken_in, result.quarantined, result.error) == (1, 0, "")
    # The exact bytes the server holds (IMAP delivers CRLF line ends).
    assert receive.received == [raw]
    assert dovecot.subjects() == []


def test_three_messages_are_taken_in_oldest_first_in_one_poll(imap_settings, dovecot, receive):
    for subject in ("one", "two", "three"):
        dovecot.append(mail(subject))

    result = imap_poll()

    assert receive.subjects == ["one", "two", "three"]
    assert result.taken_in == 3
    assert dovecot.subjects() == []


def test_more_messages_than_one_batch(imap_settings, dovecot, receive):
    subjects = [f"mail {n}" for n in range(12)]
    for subject in subjects:
        dovecot.append(mail(subject))

    assert imap_poll().taken_in == 12
    assert receive.subjects == subjects
    assert dovecot.subjects() == []


def test_an_empty_mailbox_is_a_quiet_poll(imap_settings, dovecot, receive):
    result = imap_poll()
    assert (result.taken_in, result.quarantined, result.error) == (0, 0, "")
    assert receive.received == []


def test_mail_to_quarantine_is_moved_and_the_next_one_still_taken_in(
    imap_settings, dovecot, receive
):
    receive.answers["broken"] = MailOutcome(
        outcome="rejected", quarantine=True, reason="unreadable"
    )
    dovecot.append(mail("broken"))
    dovecot.append(mail("fine"))

    result = imap_poll()

    assert (result.taken_in, result.quarantined) == (1, 1)
    assert receive.subjects == ["broken", "fine"]
    assert dovecot.subjects() == []
    assert dovecot.subjects("Quarantine") == ["broken"]


def test_an_existing_quarantine_folder_is_used(imap_settings, dovecot, receive):
    with dovecot.box() as box:
        box.folder.create("Quarantine")
    dovecot.append(mail("old"), folder="Quarantine")
    receive.answers["broken"] = MailOutcome(outcome="rejected", quarantine=True)
    dovecot.append(mail("broken"))

    imap_poll()

    assert dovecot.subjects("Quarantine") == ["old", "broken"]


def test_other_outcomes_are_deleted_too(imap_settings, dovecot, receive):
    receive.answers["auto"] = MailOutcome(outcome="ignored", reason="auto-reply")
    receive.answers["again"] = MailOutcome(outcome="case", case_id=1, reason="duplicate")
    for subject in ("auto", "again"):
        dovecot.append(mail(subject))

    assert imap_poll().taken_in == 2
    assert dovecot.subjects() == []
    assert dovecot.subjects("Quarantine") == []


def test_the_chairs_are_told_of_a_mail_that_failed(imap_settings, dovecot, receive, team):
    from ombud.notify.models import OutboxMessage
    from ombud.notify.sealing import outbox_open

    receive.answers["poison"] = ValueError(f"could not parse {SECRET}")
    dovecot.append(mail("poison"))

    assert imap_poll().quarantined == 1

    [notice] = [outbox_open(m) for m in OutboxMessage.objects.all()]
    assert notice["to"] == "alice@a.example"
    assert "team@example.org" in notice["body"] and "quarantine folder" in notice["body"]
    assert SECRET not in notice["subject"] + notice["body"]
    assert "poison" not in notice["subject"] + notice["body"]


def test_mail_for_no_event_is_kept_in_quarantine_not_deleted(imap_settings, dovecot, receive):
    """A Bcc to the team, or an alias no event has as its address: nothing
    could be stored, so the mail must stay where someone can find it."""
    receive.answers["nowhere"] = MailOutcome(outcome="rejected", reason=mailin.NO_ROUTE)
    dovecot.append(mail("nowhere"))
    dovecot.append(mail("after"))

    result = imap_poll()

    assert (result.taken_in, result.quarantined) == (1, 1)
    assert dovecot.subjects() == []
    assert dovecot.subjects("Quarantine") == ["nowhere"]


def test_mail_receive_raising_quarantines_that_mail_and_goes_on(
    imap_settings, dovecot, receive, caplog
):
    receive.answers["poison"] = ValueError(f"could not parse {SECRET}")
    dovecot.append(mail("poison"))
    dovecot.append(mail("after"))

    with caplog.at_level(logging.INFO):
        result = imap_poll()

    assert (result.taken_in, result.quarantined, result.error) == (1, 1, "")
    assert receive.subjects == ["poison", "after"]
    assert dovecot.subjects() == []
    assert dovecot.subjects("Quarantine") == ["poison"]
    assert "ValueError" in caplog.text
    assert SECRET not in caplog.text
    assert "reporter@example.net" not in caplog.text


def test_a_database_outage_leaves_the_mail_for_the_next_poll(imap_settings, dovecot, receive):
    receive.answers["first"] = OperationalError("database is locked")
    dovecot.append(mail("first"))
    dovecot.append(mail("second"))

    result = imap_poll()

    assert result.error == "OperationalError"
    assert receive.subjects == ["first"]
    assert dovecot.subjects() == ["first", "second"]
    assert dovecot.subjects("Quarantine") == []

    del receive.answers["first"]
    assert imap_poll().taken_in == 2
    assert dovecot.subjects() == []


# --- connections ---------------------------------------------------------------------


def test_connection_refused_is_logged_not_raised(imap_settings, receive, caplog):
    imap_settings.OMBUD_IMAP_PORT = free_port()  # nobody listens there

    with caplog.at_level(logging.WARNING):
        result = imap_poll()

    assert result.error == "ConnectionRefusedError"
    assert "mail poll failed: ConnectionRefusedError" in caplog.text
    assert receive.received == []


def test_wrong_password_is_logged_not_raised(imap_settings, dovecot, receive, caplog):
    imap_settings.OMBUD_IMAP_PASSWORD = "not-the-password"
    dovecot.append(mail("waiting"))

    with caplog.at_level(logging.WARNING):
        result = imap_poll()

    assert result.error == "MailboxLoginError"
    assert "not-the-password" not in caplog.text
    assert receive.received == []
    assert dovecot.subjects() == ["waiting"]


def test_a_server_certificate_nobody_vouches_for_is_refused(imap_settings, dovecot, receive):
    imap_settings.OMBUD_IMAP_CA_FILE = ""  # the system's CAs do not know Dovecot's
    dovecot.append(mail("waiting"))

    assert imap_poll().error == "SSLCertVerificationError"
    assert receive.received == []


def test_starttls(imap_settings, dovecot, receive):
    imap_settings.OMBUD_IMAP_SECURITY = "starttls"
    imap_settings.OMBUD_IMAP_PORT = dovecot.plain_port
    dovecot.append(mail("over starttls"))

    assert imap_poll().taken_in == 1
    assert receive.subjects == ["over starttls"]


def test_plain_text_only_to_this_machine(imap_settings, dovecot, receive, caplog):
    imap_settings.OMBUD_IMAP_SECURITY = "none"
    imap_settings.OMBUD_IMAP_PORT = dovecot.plain_port
    dovecot.append(mail("in clear"))
    assert imap_poll().taken_in == 1

    dovecot.append(mail("not sent"))
    imap_settings.OMBUD_IMAP_HOST = "imap.example.org"
    with caplog.at_level(logging.ERROR):
        result = imap_poll()
    assert result.error == "UnsafeConnection"
    assert "only allowed for a server on this machine" in caplog.text
    assert receive.subjects == ["in clear"]


# --- the worker's repeating task -------------------------------------------------


def _waiting_polls():
    return DBTaskResult.objects.filter(
        task_path=mail_poll.module_path, status=TaskResultStatus.READY
    )


def test_the_poll_task_polls_and_queues_the_next_one(db, imap_settings, dovecot, receive):
    imap_settings.OMBUD_IMAP_INTERVAL = 60
    dovecot.append(mail("by the worker"))

    result = mail_poll.call()

    assert result == {"taken_in": 1, "quarantined": 0, "error": ""}
    assert receive.subjects == ["by the worker"]
    (successor,) = _waiting_polls()
    assert successor.args_kwargs == {"args": [], "kwargs": {}}
    wait = successor.run_after - timezone.now()
    assert timedelta(seconds=55) < wait <= timedelta(seconds=60)


def test_a_failed_poll_still_queues_the_next_one(db, imap_settings, receive):
    imap_settings.OMBUD_IMAP_PORT = free_port()

    assert mail_poll.call()["error"] == "ConnectionRefusedError"
    assert _waiting_polls().count() == 1


def test_at_most_one_poll_waits(db, imap_settings):
    assert mail_poll_schedule() is True
    assert mail_poll_schedule() is False
    call_command("mail_poll", schedule=True)
    assert _waiting_polls().count() == 1


def test_no_poll_is_queued_when_imap_intake_is_off(db, settings):
    settings.OMBUD_MAIL_INTAKE = ""
    assert mail_poll.call() == {"skipped": "OMBUD_MAIL_INTAKE is not imap"}
    call_command("mail_poll", schedule=True)
    assert not _waiting_polls().exists()
    with pytest.raises(CommandError, match="OMBUD_MAIL_INTAKE=imap"):
        call_command("mail_poll", once=True)


def test_the_command_polls_once(imap_settings, dovecot, receive, capsys):
    dovecot.append(mail("from cron"))
    call_command("mail_poll", once=True)
    assert "1 taken in, 0 quarantined" in capsys.readouterr().out
    assert dovecot.subjects() == []


def test_the_command_fails_for_cron_when_the_server_is_unreachable(imap_settings):
    imap_settings.OMBUD_IMAP_PORT = free_port()
    with pytest.raises(CommandError, match="ConnectionRefusedError"):
        call_command("mail_poll", once=True)


# --- end to end, with the real mail_receive ----------------------------------------


def test_a_mail_becomes_a_case_and_leaves_the_mailbox(team, imap_settings, dovecot):
    dovecot.append(mail("Harassment at the party"))

    assert imap_poll().taken_in == 1

    case = Case.objects.get()
    assert (case.organisation, case.event, case.channel) == (team.org_a, team.event_a, "email")
    report = case_open(case, team.kit_a).report
    assert SECRET in report["description"]
    assert report["reporter_contact"] == "reporter@example.net"
    assert dovecot.subjects() == []


def test_the_same_mail_twice_is_one_case(team, imap_settings, dovecot):
    dovecot.append(mail("Once"))
    dovecot.append(mail("Once"))

    assert imap_poll().taken_in == 2

    assert Case.objects.count() == 1
    assert InboundMail.objects.count() == 1
    assert dovecot.subjects() == []


def test_an_empty_mail_is_quarantined_and_the_next_becomes_a_case(team, imap_settings, dovecot):
    dovecot.append(b"From: someone@example.net\r\nTo: team@example.org\r\n\r\n")
    dovecot.append(mail("After the empty one"))

    result = imap_poll()

    assert (result.taken_in, result.quarantined) == (1, 1)
    assert Case.objects.count() == 1
    assert dovecot.subjects() == []
    assert len(dovecot.subjects("Quarantine")) == 1


def _poll_in_a_process(dovecot) -> subprocess.CompletedProcess:
    """`manage.py mail_poll --once` as its own process, on the test database."""
    return _in_a_process(dovecot, [sys.executable, "manage.py", "mail_poll", "--once"])


# A poller that dies right after a mail was taken in and before it is
# deleted from the mailbox, as a worker killed at that moment would.
KILLED_POLLER = """
import os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ombud.settings")
django.setup()
from ombud.intake.imap import imap_poll
imap_poll(after_receive=lambda: os._exit(137))
"""


def _in_a_process(dovecot, command) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        command,
        cwd=settings.BASE_DIR,
        env=subprocess_env(**dovecot.env()),
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_a_poller_killed_after_the_commit_loses_nothing_and_duplicates_nothing(team, dovecot):
    dovecot.append(mail("Killed in between"))

    crashed = _in_a_process(dovecot, [sys.executable, "-c", KILLED_POLLER])

    assert crashed.returncode == 137, crashed.stderr.decode()
    # The case is committed; the mail is still there, as nothing deleted it.
    assert Case.objects.count() == 1
    assert dovecot.subjects() == ["Killed in between"]

    again = _poll_in_a_process(dovecot)

    assert again.returncode == 0, again.stderr.decode()
    assert b"1 taken in, 0 quarantined" in again.stdout
    assert Case.objects.count() == 1
    assert InboundMail.objects.get().case == Case.objects.get()
    assert dovecot.subjects() == []
