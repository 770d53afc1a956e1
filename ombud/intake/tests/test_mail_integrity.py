"""Mail answering a case arrives without any key and is sealed to the case
inbox. It is shown for what it is (the reporter, by email), and the inbox's
public key, stored in plain, lets nobody write anything else: a row sealed
to the inbox that says it is a staff message is refused."""

import importlib

from django.apps import apps

from conftest import browser
from ombud.cases.models import Attachment, Message
from ombud.intake.mailin import mail_receive
from ombud.intake.tests.conftest import TEAM_A

PLACEHOLDER = "This item cannot be decrypted"


def _reply(world, text: str) -> bytes:
    sender = "first@example.net"
    return (
        f"From: {sender}\r\nTo: {TEAM_A}\r\nSubject: Re: your report [#{world.first['tag']}]\r\n"
        "Message-ID: <integrity-1@example.net>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        '--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="'
        'mailed-file.txt"\r\n\r\nWhat the file says\r\n--b--\r\n'
    ).encode()


def test_a_reply_by_mail_is_shown_as_arrived_by_email_with_its_file(world):
    assert mail_receive(_reply(world, "MailReply-77 I remember more now.")).outcome == "message"
    case = world.first["case"]
    message = Message.objects.get(case=case)
    assert (message.direction, message.via) == ("from_reporter", "email")

    client = browser(world.alice)
    response = client.get(f"/org-a/staff/cases/{case.number}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "MailReply-77 I remember more now." in body
    assert "The reporter · arrived by email" in body
    assert "mailed-file.txt" in body
    attachment = Attachment.objects.get(message=message)
    download = client.get(f"/org-a/staff/cases/{case.number}/attachments/{attachment.pk}/")
    assert download.status_code == 200 and download.content == b"What the file says"


def test_mail_content_moved_onto_a_staff_message_is_refused(world):
    """A database writer turns the reporter's mail into a message by alice:
    the text and its file are no longer shown, as hers or anyone's."""
    assert mail_receive(_reply(world, "MailReply-78 the words")).outcome == "message"
    case = world.first["case"]
    message = Message.objects.get(case=case)
    Message.objects.filter(pk=message.pk).update(
        direction=Message.Direction.TO_REPORTER, author=world.alice
    )
    client = browser(world.alice)
    body = client.get(f"/org-a/staff/cases/{case.number}/").content.decode()
    assert "MailReply-78" not in body
    assert "mailed-file.txt" not in body
    assert body.count(PLACEHOLDER) == 3  # the message in the thread and the timeline, its file
    attachment = Attachment.objects.get(message=message)
    download = client.get(f"/org-a/staff/cases/{case.number}/attachments/{attachment.pk}/")
    assert download.status_code == 409


message_via = importlib.import_module("ombud.cases.migrations.0010_message_via")


def test_the_migration_marks_earlier_replies_by_mail_and_nothing_else(world):
    """Before `via`, a reporter's message sealed to the inbox could only have
    come by mail; a staff message sealed to it was never the team's."""
    assert mail_receive(_reply(world, "MailReply-79")).outcome == "message"
    case = world.first["case"]
    by_mail = Message.objects.get(case=case)
    staff = Message.objects.create(
        case=case, direction=Message.Direction.TO_REPORTER, body=bytes(by_mail.body)
    )
    Message.objects.update(via=Message.Via.WEB)  # as the column's default made them

    message_via.mail_marked(apps, None)

    assert Message.objects.get(pk=by_mail.pk).via == "email"
    assert Message.objects.get(pk=staff.pk).via == "web"
