"""Mailgun's inbound webhook: real Mailgun-format posts (multipart form,
signed with HMAC-SHA256 of timestamp + token under the signing key), with
the shared secret as HTTP basic auth."""

import base64
import email
import email.policy
import hashlib
import hmac
import logging
import secrets
import time

import pytest
from django.test import Client

from ombud.intake import mailin
from ombud.intake.mailin import MailOutcome
from ombud.intake.tests.conftest import FakeReceive

SIGNING_KEY = "key-mailgun-signing-0123456789"
BASIC_AUTH = "mailgun:webhook-shared-secret"
URL = "/anymail/mailgun/inbound_mime/"
SECRET = "ZQX-webhook-content-93fe"

RAW = (
    b"From: Reporter <reporter@example.net>\r\n"
    b"To: team@example.org\r\n"
    b"Subject: Report\r\n"
    b"Message-ID: <webhook-1@example.net>\r\n"
    b"\r\n" + SECRET.encode() + b" by the stage.\r\n"
)


def signed(key: str = SIGNING_KEY, timestamp: int | None = None, raw: bytes = RAW) -> dict:
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    token = secrets.token_hex(25)
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "recipient": "team@example.org",
        "sender": "reporter@example.net",
        "body-mime": raw.decode(),
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
    }


def auth(credentials: str = BASIC_AUTH) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


@pytest.fixture
def receive(monkeypatch):
    fake = FakeReceive()
    monkeypatch.setattr(mailin, "mail_receive", fake)
    return fake


@pytest.fixture
def webhook(settings):
    settings.OMBUD_MAIL_INTAKE = "webhook"
    settings.ANYMAIL = {"WEBHOOK_SECRET": BASIC_AUTH, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    # A real provider gets 400 and 500 answers, not exceptions.
    return Client(raise_request_exception=False)


def test_a_signed_post_is_taken_in(webhook, receive):
    response = webhook.post(URL, signed(), **auth())

    assert response.status_code == 200
    ((raw, recipients),) = receive.calls
    assert recipients == ["team@example.org"]
    assert b"Message-ID: <webhook-1@example.net>" in raw
    assert SECRET.encode() in raw


def test_the_parsed_format_is_taken_in_too(webhook, receive):
    data = signed()
    del data["body-mime"]
    data.update(
        {
            "message-headers": (
                '[["From", "Reporter <reporter@example.net>"], ["To", "team@example.org"],'
                ' ["Subject", "Report"], ["Message-Id", "<webhook-2@example.net>"]]'
            ),
            "from": "Reporter <reporter@example.net>",
            "subject": "Report",
            "body-plain": f"{SECRET} by the stage.",
        }
    )
    response = webhook.post("/anymail/mailgun/inbound/", data, **auth())

    assert response.status_code == 200
    ((raw, _),) = receive.calls
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Message-ID"] == "<webhook-2@example.net>"
    assert message.get_body(("plain",)).get_content() == f"{SECRET} by the stage."


@pytest.mark.parametrize(
    ("change", "headers"),
    [
        pytest.param(lambda d: d.pop("signature"), auth(), id="unsigned"),
        pytest.param(lambda d: d.update(signature="0" * 64), auth(), id="bad signature"),
        pytest.param(lambda d: d.update(token="another-token"), auth(), id="token swapped"),
        pytest.param(lambda d: None, {}, id="no basic auth"),
        pytest.param(lambda d: None, auth("mailgun:guessed"), id="wrong basic auth"),
    ],
)
def test_a_post_that_is_not_from_mailgun_is_refused(webhook, receive, change, headers):
    data = signed()
    change(data)
    response = webhook.post(URL, data, **headers)
    assert response.status_code == 400
    assert receive.calls == []


def test_signed_with_another_key_is_refused(webhook, receive):
    response = webhook.post(URL, signed(key="key-someone-else"), **auth())
    assert response.status_code == 400
    assert receive.calls == []


def test_a_captured_post_replayed_later_is_refused(webhook, receive):
    response = webhook.post(URL, signed(timestamp=int(time.time()) - 3600), **auth())
    assert response.status_code == 400
    assert receive.calls == []


def test_nothing_is_there_when_webhook_intake_is_off(webhook, receive, settings):
    for intake in ("", "imap", "smtp"):
        settings.OMBUD_MAIL_INTAKE = intake
        assert webhook.post(URL, signed(), **auth()).status_code == 404
    assert receive.calls == []


def test_only_post(webhook, receive):
    assert webhook.get(URL, **auth()).status_code == 405
    assert receive.calls == []


def test_an_error_is_a_500_so_mailgun_posts_again_and_the_log_has_no_content(
    webhook, receive, caplog
):
    receive.answer = RuntimeError(f"failed on {SECRET}")
    with caplog.at_level(logging.INFO):
        response = webhook.post(URL, signed(), **auth())
    assert response.status_code == 500
    assert "RuntimeError" in caplog.text
    assert SECRET not in caplog.text
    assert "reporter@example.net" not in caplog.text


def test_mail_that_cannot_be_processed_is_answered_200_and_logged(webhook, receive, caplog):
    receive.answer = MailOutcome(outcome="rejected", quarantine=True, reason="empty")
    with caplog.at_level(logging.WARNING):
        response = webhook.post(URL, signed(), **auth())
    assert response.status_code == 200
    assert "could not be taken in (empty)" in caplog.text


def test_a_signed_post_becomes_an_encrypted_case_once(webhook, people):
    """The whole way, without fakes: Mailgun's post to a case the team reads,
    and the provider's retry of the same mail makes no second case."""
    from ombud.cases.models import Case, Channel
    from ombud.intake.tests.conftest import case_open

    people.event_a.team_email = "team@example.org"
    people.event_a.save()

    assert webhook.post(URL, signed(), **auth()).status_code == 200
    assert webhook.post(URL, signed(), **auth()).status_code == 200  # a retry

    [case] = Case.objects.all()
    assert case.organisation == people.org_a and case.channel == Channel.EMAIL
    content = case_open(case, people.kit_a)
    assert SECRET in content.report["description"]
    assert content.report["reporter_contact"] == "reporter@example.net"
