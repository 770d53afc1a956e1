"""The outbox against a real SMTP server and a real HTTP push receiver,
driven by the real task worker under a controlled clock."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conftest import browser
from ombud.notify.models import OutboxMessage, PushChannel
from ombud.notify.sealing import outbox_open
from ombud.notify.services import outbox_email, push_channel_add
from ombud.notify.tasks import MAX_ATTEMPTS, backoff, outbox_deliver
from tests.support import notify as testing

pytestmark = pytest.mark.django_db(transaction=True)

SECRET_ADDRESS = "quiet-reporter-7f3a@example.org"
SECRET_TEXT = "TEXT-MARKER-91c2 the words of a message"


def test_email_goes_out_through_smtp_and_the_row_is_deleted(people, smtp):
    outbox_email(organisation=people.org_a, to=SECRET_ADDRESS, subject="Hello", body=SECRET_TEXT)
    testing.run_worker()
    [mail] = smtp.to(SECRET_ADDRESS)
    assert mail.subject == "Hello" and SECRET_TEXT in mail.body
    assert not OutboxMessage.objects.exists()


def test_smtp_down_for_the_first_attempts_then_the_message_arrives_once(people, smtp, clock):
    smtp.stop()
    outbox_email(organisation=people.org_a, to=SECRET_ADDRESS, subject="Hello", body=SECRET_TEXT)

    testing.run_worker()  # attempt 1: connection refused
    message = OutboxMessage.objects.get()
    assert message.attempts == 1
    assert message.last_error == "ConnectionRefusedError"
    assert message.next_attempt_at > timezone.now() + backoff(1) - timedelta(seconds=5)

    testing.run_worker()  # not due yet: nothing happens
    assert OutboxMessage.objects.get().attempts == 1

    clock.shift(backoff(1) + timedelta(seconds=1))
    testing.run_worker()  # attempt 2: still down, and the wait doubles
    message = OutboxMessage.objects.get()
    assert message.attempts == 2
    assert backoff(2) == 2 * backoff(1)

    smtp.start()
    clock.shift(backoff(2) + timedelta(seconds=1))
    testing.run_worker()  # attempt 3: delivered
    assert len(smtp.to(SECRET_ADDRESS)) == 1
    assert not OutboxMessage.objects.exists()

    clock.shift(timedelta(hours=6))
    testing.run_worker()
    assert len(smtp.to(SECRET_ADDRESS)) == 1, "delivered exactly once"
    failed = DBTaskResult.objects.filter(status="FAILED")
    assert not failed.exists(), [t.traceback for t in failed]


def test_push_service_down_then_the_push_arrives_once(people, receiver, clock):
    channel = push_channel_add(user=people.bob, label="phone", url=receiver.url("bob-phone"))
    from ombud.notify.services import outbox_push

    receiver.down = True
    outbox_push(organisation=people.org_a, channel=channel, title="Title", body=SECRET_TEXT)
    testing.run_worker()
    message = OutboxMessage.objects.get()
    assert (message.attempts, message.last_error) == (1, "PushNotDelivered")
    assert receiver.pushes == []

    receiver.down = False
    clock.shift(backoff(1) + timedelta(seconds=1))
    testing.run_worker()
    [push] = receiver.to("bob-phone")
    assert push.data["title"] == "Title" and push.data["message"] == SECRET_TEXT
    assert not OutboxMessage.objects.exists()
    clock.shift(timedelta(hours=1))
    testing.run_worker()
    assert len(receiver.pushes) == 1


def test_payload_and_task_arguments_hold_no_address_or_text(people, receiver):
    outbox_email(
        organisation=people.org_a, to=SECRET_ADDRESS, subject=SECRET_TEXT, body=SECRET_TEXT
    )
    channel = push_channel_add(user=people.bob, label="phone", url=receiver.url("bob-secret-topic"))
    from ombud.notify.services import outbox_push

    outbox_push(organisation=people.org_a, channel=channel, title=SECRET_TEXT, body=SECRET_TEXT)
    for message in OutboxMessage.objects.all():
        stored = bytes(message.payload)
        assert SECRET_ADDRESS.encode() not in stored
        assert b"TEXT-MARKER" not in stored
        assert b"bob-secret-topic" not in stored
        assert SECRET_TEXT in str(outbox_open(message))  # and it opens with the pepper key
        assert message.last_error == ""
    assert b"bob-secret-topic" not in bytes(PushChannel.objects.get().url_box)
    for task in DBTaskResult.objects.all():
        assert set(task.args_kwargs["kwargs"]) == {"message_id"}
        assert isinstance(task.args_kwargs["kwargs"]["message_id"], int)


def test_a_second_run_of_the_same_delivery_sends_nothing_more(people, smtp):
    message = outbox_email(organisation=people.org_a, to=SECRET_ADDRESS, subject="s", body="b")
    assert outbox_deliver.call(message_id=message.pk) == "sent"
    assert outbox_deliver.call(message_id=message.pk) == "skipped"
    assert len(smtp.to(SECRET_ADDRESS)) == 1


def test_a_delivery_in_progress_is_not_sent_again_by_a_parallel_run(people, smtp):
    message = outbox_email(organisation=people.org_a, to=SECRET_ADDRESS, subject="s", body="b")
    OutboxMessage.objects.filter(pk=message.pk).update(
        claimed_until=timezone.now() + timedelta(minutes=1)
    )
    assert outbox_deliver.call(message_id=message.pk) == "skipped"
    assert smtp.mails == []


def test_gives_up_after_the_last_attempt_and_the_chair_can_retry(people, smtp, clock):
    smtp.stop()
    message = outbox_email(organisation=people.org_a, to=SECRET_ADDRESS, subject="s", body="b")
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=MAX_ATTEMPTS - 1)
    testing.run_worker()
    message.refresh_from_db()
    assert message.attempts == MAX_ATTEMPTS and message.gave_up
    clock.shift(timedelta(days=1))
    testing.run_worker()
    assert OutboxMessage.objects.get().attempts == MAX_ATTEMPTS, "no more attempts"

    alice = browser(people.alice)
    page = alice.get("/org-a/staff/outbox/").content.decode()
    assert "gave up" in page and "1 given up" in page

    smtp.start()
    response = alice.post("/org-a/staff/outbox/retry/", follow=True)
    assert "Trying 1 message(s) again now." in response.content.decode()
    testing.run_worker()
    assert len(smtp.to(SECRET_ADDRESS)) == 1
    assert not OutboxMessage.objects.exists()


def test_outbox_page_shows_delivery_state_but_never_address_or_text(people, smtp, clock):
    smtp.stop()
    outbox_email(
        organisation=people.org_a, to=SECRET_ADDRESS, subject=SECRET_TEXT, body=SECRET_TEXT
    )
    outbox_email(organisation=people.org_b, to="other@b.example", subject="B", body="org B")
    testing.run_worker()
    clock.shift(timedelta(minutes=5))

    page = browser(people.alice).get("/org-a/staff/outbox/").content.decode()
    assert "ConnectionRefusedError" in page
    assert "Email" in page and "2 waiting" not in page and "1 waiting" in page
    assert "5\xa0minutes ago" in page or "5 minutes ago" in page
    assert SECRET_ADDRESS not in page and "TEXT-MARKER" not in page
    assert "org B" not in page and "other@b.example" not in page


@pytest.mark.parametrize(
    ("who", "status"),
    [("alice", 200), ("bob", 403), ("charlie", 404), (None, 302)],
    ids=["chair", "responder", "other organisation's chair", "anonymous"],
)
def test_outbox_page_is_for_the_chair_only(people, who, status):
    client = browser(getattr(people, who)) if who else Client()
    response = client.get("/org-a/staff/outbox/")
    assert response.status_code == status
    if who is None:
        assert response["Location"].startswith("/accounts/login/?next=")
    retry = client.post("/org-a/staff/outbox/retry/")
    assert retry.status_code == (302 if status == 200 else status)


def test_a_responder_who_recused_after_the_page_was_queued_does_not_get_it(
    people, smtp, receiver, submit_report
):
    push_channel_add(user=people.bob, label="phone", url=receiver.url("bob"))
    case, _ = submit_report(people.event_a, ongoing="on")
    assert OutboxMessage.objects.filter(user=people.bob).count() == 2  # email + push
    assert browser(people.bob).post(f"/org-a/staff/cases/{case.number}/recuse/").status_code == 302

    testing.run_worker()
    assert "bob@a.example" not in smtp.recipients()
    assert receiver.to("bob") == []
    assert smtp.to("alice@a.example"), "the others are still paged"
    assert not OutboxMessage.objects.exists()


def test_deleting_a_push_channel_drops_what_is_queued_for_it(people, receiver):
    channel = push_channel_add(user=people.bob, label="phone", url=receiver.url("bob"))
    from ombud.notify.services import push_channel_test

    push_channel_test(user=people.bob, channel=channel)
    channel.delete()
    assert not OutboxMessage.objects.exists()
    testing.run_worker()
    assert receiver.pushes == []


def test_a_message_whose_delivery_task_was_lost_shows_overdue_and_can_be_retried(
    people, smtp, clock
):
    # A worker died in the middle of the send: the task is gone, the row stays.
    message = outbox_email(organisation=people.org_a, to=SECRET_ADDRESS, subject="s", body="b")
    DBTaskResult.objects.all().delete()
    OutboxMessage.objects.filter(pk=message.pk).update(
        claimed_until=timezone.now() + timedelta(minutes=5)
    )
    clock.shift(timedelta(minutes=30))
    testing.run_worker()
    assert smtp.mails == []

    alice = browser(people.alice)
    page = alice.get("/org-a/staff/outbox/").content.decode()
    assert "1 overdue" in page and "is the task worker running?" in page
    alice.post("/org-a/staff/outbox/retry/")
    testing.run_worker()
    assert len(smtp.to(SECRET_ADDRESS)) == 1
    assert not OutboxMessage.objects.exists()
