"""Messages to the reported person: separate from the reporter's thread,
checked for what could identify the reporter, and held for a second
responder's approval when the case has a retaliation or safety concern."""

from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.cases.models import Case, ReportedPersonMessage
from ombud.notify.models import OutboxMessage
from ombud.notify.sealing import outbox_open

BODY = "We received a report about your behaviour at the social and want to talk."


def _url(case, action):
    return f"/org-a/staff/cases/{case.number}/{action}/"


def _emails_to(address):
    return [m for m in OutboxMessage.objects.all() if outbox_open(m).get("to") == address]


def test_message_is_sent_at_once_without_a_safety_concern(people, submit_report, login):
    case, _ = submit_report(people.event_a)
    bob = login(people.bob)
    response = bob.post(_url(case, "reported-message"), {"to": "them@example.org", "body": BODY})
    assert response.status_code == 302
    message = ReportedPersonMessage.objects.get(case=case)
    assert message.sent_at is not None
    assert BODY.encode() not in bytes(message.content)
    (email,) = _emails_to("them@example.org")
    assert outbox_open(email)["body"] == BODY
    assert "them@example.org" in bob.get(f"/org-a/staff/cases/{case.number}/").content.decode()


def test_safety_concern_needs_a_second_responder(people, submit_report, login, client):
    case, _ = submit_report(people.event_a, safety_concerns="He knows where I live.")
    assert Case.objects.get(pk=case.pk).retaliation_concern
    bob = login(people.bob)
    bob.post(_url(case, "reported-message"), {"to": "them@example.org", "body": BODY})
    message = ReportedPersonMessage.objects.get(case=case)
    assert message.sent_at is None and _emails_to("them@example.org") == []
    page = bob.get(f"/org-a/staff/cases/{case.number}/").content.decode()
    assert "waiting for a second responder" in page

    refused = bob.post(_url(case, "reported-approve"), {"message": str(message.pk)})
    assert refused.status_code == 400
    assert "you wrote this message" in refused.content.decode()
    assert _emails_to("them@example.org") == []

    from django.test import Client

    alice = Client()
    alice.post(
        "/accounts/login/",
        {"username": "alice@a.example", "password": "correct horse battery staple"},
    )
    assert (
        alice.post(_url(case, "reported-approve"), {"message": str(message.pk)}).status_code == 302
    )
    message.refresh_from_db()
    assert message.sent_at is not None and message.approved_by == people.alice
    assert len(_emails_to("them@example.org")) == 1
    again = alice.post(_url(case, "reported-approve"), {"message": str(message.pk)})
    assert again.status_code == 400
    assert len(_emails_to("them@example.org")) == 1
    assert (
        AuditEvent.objects.filter(type=AuditType.REPORTED_MESSAGE_SENT, case_id=case.pk).count()
        == 1
    )


def test_draft_naming_the_reporter_is_stopped_until_confirmed(people, submit_report, login):
    case, _ = submit_report(
        people.event_a, reporter_name="Morgan Quill", reporter_contact="morgan@example.org"
    )
    bob = login(people.bob)
    draft = {"to": "them@example.org", "body": "Quill told us what you did."}
    response = bob.post(_url(case, "reported-message"), draft)
    assert response.status_code == 400
    assert "part of the reporter&#x27;s name" in response.content.decode()
    assert not ReportedPersonMessage.objects.exists()
    response = bob.post(_url(case, "reported-message"), {**draft, "identifying_ok": "on"})
    assert response.status_code == 302
    assert ReportedPersonMessage.objects.filter(case=case).count() == 1


def test_reporter_never_sees_messages_to_the_reported_person(people, submit_report, login, client):
    case, receipt = submit_report(people.event_a)
    login(people.bob).post(_url(case, "reported-message"), {"to": "them@example.org", "body": BODY})
    from django.test import Client

    reporter = Client()
    reporter.post("/org-a/report/status/", {"receipt": receipt})
    page = reporter.get("/org-a/report/status/case/").content.decode()
    assert BODY not in page and "them@example.org" not in page


def test_bad_input_is_refused_and_nothing_is_sent(people, submit_report, login):
    case, _ = submit_report(people.event_a)
    bob = login(people.bob)
    for data in [
        {"to": "not-an-address", "body": BODY},
        {"to": "them@example.org", "body": "   "},
        {"to": "them@example.org", "body": "x" * 20_001},
        {},
    ]:
        assert bob.post(_url(case, "reported-message"), data).status_code == 400
    assert not ReportedPersonMessage.objects.exists()
    assert not OutboxMessage.objects.filter(topic="other").exists()
