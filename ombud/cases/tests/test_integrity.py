"""What someone who can write to the database (but holds no key) can do to
what the team and the reporter read: not put words in anyone's mouth
(content sealed to the case inbox opens only for mail from the reporter),
and not take the case page down (a tampered row is shown as such, the rest
of the page stays, and the log says which row)."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from conftest import browser
from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.cases.models import Attachment, Case, Decision, Message, Submission
from ombud.lib import crypto

FORGED = "FORGED-Zq81: the team has decided you were right all along"
PLACEHOLDER = "This item cannot be decrypted"


@pytest.fixture
def case(people, submit_report):
    """A case of org A with a report, a reply by alice and one from the reporter."""
    case, receipt = submit_report(people.event_a, description="The original report text.")
    alice = browser(people.alice)
    url = f"/org-a/staff/cases/{case.number}/"
    assert alice.post(url + "reply/", {"body": "First reply from Alice."}).status_code == 302
    assert alice.post(url + "reply/", {"body": "Second reply from Alice."}).status_code == 302
    people.case = Case.objects.get(pk=case.pk)
    people.receipt = receipt
    people.url = url
    return people


def _inbox_sealed(case, text: str, field: str) -> bytes:
    """What anyone can write: the case's inbox public key is stored in plain."""
    return crypto.inbox_seal(case.inbox_public_key, text.encode(), case_id=case.pk, field=field)


def _portal(world):
    client = browser()
    response = client.post("/org-a/report/status/", {"receipt": world.receipt})
    assert response.status_code == 302
    return client


def _integrity_events(case):
    return list(AuditEvent.objects.filter(case_id=case.pk, type=AuditType.CONTENT_INTEGRITY_FAILED))


# --- item 6: no words put in the team's mouth ------------------------------------------


def test_a_staff_message_forged_with_the_inbox_key_is_not_shown_as_their_text(case):
    message = Message.objects.filter(case=case.case).first()
    assert message.direction == Message.Direction.TO_REPORTER
    Message.objects.filter(pk=message.pk).update(
        body=_inbox_sealed(case.case, FORGED, message.body_field)
    )

    for client, url in (
        (browser(case.bob), case.url),
        (_portal(case), "/org-a/report/status/case/"),
    ):
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 200
        assert FORGED not in body
        assert PLACEHOLDER in body
        assert "Second reply from Alice." in body


def test_a_portal_message_forged_with_the_inbox_key_is_refused(case):
    """Reporters write in the portal under the case key: a row sealed to the
    inbox claiming to be such a message is not theirs."""
    client = _portal(case)
    assert client.post("/org-a/report/status/case/message/", {"body": "Mine."}).status_code == 302
    message = Message.objects.get(case=case.case, direction=Message.Direction.FROM_REPORTER)
    Message.objects.filter(pk=message.pk).update(
        body=_inbox_sealed(case.case, FORGED, message.body_field)
    )
    body = browser(case.bob).get(case.url).content.decode()
    assert FORGED not in body
    assert PLACEHOLDER in body


def test_decisions_and_report_files_forged_with_the_inbox_key_are_refused(people, submit_report):
    case, _ = submit_report(
        people.event_a, attachments=[SimpleUploadedFile("real-name.txt", b"a file")]
    )
    url = f"/org-a/staff/cases/{case.number}/"
    alice = browser(people.alice)
    decided = alice.post(url + "decision/", {"violation": "no", "rationale": "Real rationale."})
    assert decided.status_code == 302
    decision = Decision.objects.get(case=case)
    case.refresh_from_db()
    Decision.objects.filter(pk=decision.pk).update(
        rationale=_inbox_sealed(case, FORGED, decision.rationale_field)
    )
    attachment = Attachment.objects.get(case=case)
    Attachment.objects.filter(pk=attachment.pk).update(
        name=_inbox_sealed(case, FORGED + ".txt", attachment.name_field)
    )

    response = alice.get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert FORGED not in body
    assert body.count(PLACEHOLDER) == 2  # the rationale, the file


# --- item 11: one tampered row does not take the page down ---------------------------------


def _flip(blob) -> bytes:
    data = bytearray(bytes(blob))
    data[-5] ^= 0x01
    return bytes(data)


def test_a_tampered_message_shows_a_placeholder_and_the_rest_of_the_page(case):
    first = Message.objects.filter(case=case.case).first()
    Message.objects.filter(pk=first.pk).update(body=_flip(first.body))

    response = browser(case.bob).get(case.url)
    body = response.content.decode()
    assert response.status_code == 200
    assert PLACEHOLDER in body
    assert "First reply from Alice." not in body
    assert "Second reply from Alice." in body
    assert "The original report text." in body
    [event] = _integrity_events(case.case)
    assert event.actor_id == case.bob.pk
    assert event.data == {"kind": "message", "row": str(first.pk), "field": first.body_field}

    # The reporter's portal too, with an event of its own (no actor: the receipt).
    response = _portal(case).get("/org-a/report/status/case/")
    assert response.status_code == 200
    assert PLACEHOLDER in response.content.decode()
    assert "Second reply from Alice." in response.content.decode()
    assert len(_integrity_events(case.case)) == 2


def test_a_tampered_report_shows_a_placeholder_and_the_messages(case):
    submission = Submission.objects.get(case=case.case)
    Submission.objects.filter(pk=submission.pk).update(content=_flip(submission.content))

    response = browser(case.alice).get(case.url)
    body = response.content.decode()
    assert response.status_code == 200
    assert PLACEHOLDER in body
    assert "First reply from Alice." in body
    [event] = _integrity_events(case.case)
    assert event.data["kind"] == "submission"
    assert "original report" not in str(event.data)


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return out.getvalue()


def test_a_tampered_photo_shows_the_page_and_its_download_is_refused(people, submit_report):
    case, _ = submit_report(people.event_a, attachments=[SimpleUploadedFile("photo.png", _photo())])
    attachment = Attachment.objects.get(case=case)
    Attachment.objects.filter(pk=attachment.pk).update(content=_flip(attachment.content))
    alice = browser(people.alice)
    url = f"/org-a/staff/cases/{case.number}/"

    response = alice.get(url)
    assert response.status_code == 200
    assert "photo.png" in response.content.decode()
    assert PLACEHOLDER in response.content.decode()

    download = alice.get(f"{url}attachments/{attachment.pk}/")
    assert download.status_code == 409
    assert PLACEHOLDER in download.content.decode()
    assert len(_integrity_events(case)) == 2
