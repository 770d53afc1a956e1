"""Email intake leaves no trace of what was written: a report by mail with
a file, the reply that joins it, and the automatic answer's receipt are not
in the raw database (SQLite files or pg_dump), the logs with SQL, or the
task queue; the team's notices carry none of it."""

import io
import logging

import pytest
from django.core import mail
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from ombud.cases.models import Attachment, Case, Message
from ombud.intake.mailin import mail_receive
from ombud.intake.tests.conftest import auto_replies
from ombud.intake.tests.test_confidentiality import (
    ids_only,
    leaks,
    signal_handlers_kept,
    sql_logged,  # noqa: F401 - a fixture
    stored_bytes,
)

TEAM = "team@a.example"
SENDER = "mailleak-sender-4f1c@example.net"
MARKERS = {
    "subject": "MailLeakSubject-8d2e",
    "body": "MailLeakBody-13ab behind the stage",
    "sender name": "MailLeakName-77c0",
    "sender address": SENDER,
    "file name": "mailleak-file-name-5e9d.txt",
    "file content": "MailLeakFileContent-a0f4",
    "reply": "MailLeakReply-c3b7",
}


def report() -> bytes:
    return (
        f"From: {MARKERS['sender name']} <{SENDER}>\r\nTo: {TEAM}\r\n"
        f"Subject: {MARKERS['subject']}\r\nMessage-ID: <leak-1@example.net>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{MARKERS['body']}\r\n"
        f'--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="'
        f'{MARKERS["file name"]}"\r\n\r\n{MARKERS["file content"]}\r\n--b--\r\n'
    ).encode()


def reply(tag: str) -> bytes:
    return (
        f"From: {SENDER}\r\nTo: {TEAM}\r\nSubject: Re: your report [#{tag}]\r\n"
        f"Message-ID: <leak-2@example.net>\r\n\r\n{MARKERS['reply']}\r\n"
    ).encode()


@pytest.mark.django_db(transaction=True)
def test_mail_and_its_reply_leave_no_trace(people, caplog, sql_logged):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    for name in ("django_tasks", "django.tasks", "django_tasks_db", "django.db.backends"):
        caplog.set_level(logging.DEBUG, logger=name)
    people.event_a.team_email = TEAM
    people.event_a.save()

    assert mail_receive(report()).outcome == "case"
    [answer] = auto_replies(SENDER)
    tag = answer["subject"].rsplit("[#", 1)[1].rstrip("]")
    receipt = answer["body"].split("Your receipt:\n\n    ", 1)[1].split("\n", 1)[0]
    assert mail_receive(reply(tag)).outcome == "message"
    case = Case.objects.get()
    assert Message.objects.filter(case=case).count() == 1
    assert Attachment.objects.filter(case=case).count() == 1
    secrets = {**MARKERS, "receipt": receipt, "tag": tag}

    worker_output = io.StringIO()
    with signal_handlers_kept():
        call_command(
            "db_worker", batch=True, startup_delay=False, verbosity=2, stdout=worker_output
        )
    tasks = list(DBTaskResult.objects.all())
    assert [t.task_path for t in tasks if t.status == "FAILED"] == []
    assert any(t.status == "SUCCESSFUL" for t in tasks), "no task ran"

    where, raw = stored_bytes()
    assert TEAM.encode() in raw, f"{TEAM!r} not in {where}: the search reads nothing"
    assert leaks(raw, secrets) == [], f"found in {where}"

    assert any(r.name == "django.db.backends" for r in caplog.records), "SQL was not logged"
    log_text = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    assert leaks(log_text, secrets) == [], "found in the logs"
    assert leaks(worker_output.getvalue(), secrets) == [], "found in the worker output"
    for task in tasks:
        assert ids_only(task.args_kwargs), f"{task.task_path} takes {task.args_kwargs}"
        stored = f"{task.args_kwargs} {task.return_value} {task.traceback}"
        assert leaks(stored, secrets) == [], f"found in the task queue ({task.task_path})"

    # The sender got their receipt and nothing of what they wrote; the team's
    # notices carry neither.
    to_sender = [m for m in mail.outbox if m.to == [SENDER]]
    assert len(to_sender) == 1 and receipt in to_sender[0].body
    content = {k: v for k, v in MARKERS.items() if k != "sender address"}
    assert leaks(to_sender[0].message().as_string(), content) == []
    to_team = [m for m in mail.outbox if m.to != [SENDER]]
    assert to_team, "the team was not told"
    for message in to_team:
        assert leaks(message.message().as_string(), secrets) == [], f"in the mail to {message.to}"
