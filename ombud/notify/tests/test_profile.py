"""The profile page: a staff member's own push channels and the test button."""

import pytest
from django.test import Client

from conftest import browser
from ombud.notify.models import OutboxMessage, PushChannel
from ombud.notify.sealing import push_url_open
from ombud.notify.services import push_channel_add
from tests.support import notify as testing

PROFILE = "/staff/profile/"
TOPIC = "ombud-9f8e7d6c5b4a-secret-topic"


@pytest.fixture
def receiver(settings):
    settings.OMBUD_PUSH_ALLOW_PRIVATE = True  # a self-hosted ntfy on 127.0.0.1
    with testing.push_receiver() as receiver:
        yield receiver


def test_profile_needs_login():
    response = Client().get(PROFILE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_add_a_channel_stores_the_url_sealed_and_never_shows_it(people, dns):
    bob = browser(people.bob)
    response = bob.post(
        PROFILE, {"label": "Pixel of Bob", "url": f"ntfys://ntfy.sh/{TOPIC}"}, follow=True
    )
    html = response.content.decode()
    assert response.redirect_chain == [(PROFILE, 302)]
    assert "Push channel “Pixel of Bob” added." in html
    assert "Pixel of Bob" in html and '<td data-label="Service">ntfy</td>' in html
    assert TOPIC not in html
    channel = PushChannel.objects.get(user=people.bob)
    assert TOPIC.encode() not in bytes(channel.url_box)
    assert push_url_open(channel) == f"ntfys://ntfy.sh/{TOPIC}"
    # Nobody else sees it.
    assert "Pixel of Bob" not in browser(people.dave).get(PROFILE).content.decode()


@pytest.mark.parametrize(
    "url",
    ["not a url", "https://example.org/hook?x=1", "syslog://", "", "ntfys://" + "x" * 3000],
)
def test_urls_apprise_cannot_use_are_refused(people, dns, url):
    response = browser(people.bob).post(PROFILE, {"label": "phone", "url": url})
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert not PushChannel.objects.exists()


def test_refused_url_is_not_echoed_into_the_error(people, dns):
    response = browser(people.bob).post(PROFILE, {"label": "p", "url": f"bogus://{TOPIC}"})
    assert "Ombud pushes only to these services" in response.content.decode()
    assert response.content.decode().count(TOPIC) <= 1  # only in the input it came from


@pytest.mark.django_db(transaction=True)
def test_send_test_pushes_through_the_outbox(people, receiver):
    channel = push_channel_add(user=people.bob, label="phone", url=receiver.url("bob"))
    bob = browser(people.bob)
    response = bob.post(f"/staff/profile/push/{channel.pk}/test/", follow=True)
    assert "A test push to “phone” is on its way." in response.content.decode()
    message = OutboxMessage.objects.get()
    assert (message.kind, message.topic, message.organisation_id) == ("push", "test", None)
    assert receiver.pushes == [], "the request only queues it"
    assert "waiting for the worker" in bob.get(PROFILE).content.decode()

    testing.run_worker()
    [push] = receiver.to("bob")
    assert push.data["title"] == "Ombud test push"
    assert not OutboxMessage.objects.exists()
    assert "waiting for the worker" not in bob.get(PROFILE).content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_failing_test_push_shows_on_the_profile_not_on_the_chairs_outbox(people, receiver):
    receiver.down = True
    channel = push_channel_add(user=people.alice, label="phone", url=receiver.url("alice"))
    alice = browser(people.alice)
    alice.post(f"/staff/profile/push/{channel.pk}/test/")
    testing.run_worker()
    html = alice.get(PROFILE).content.decode()
    assert "failed 1 time, trying again" in html
    assert "PushNotDelivered" not in html, "the profile says it failed, never why"
    assert "Nothing is waiting" in alice.get("/org-a/staff/outbox/").content.decode()


def test_remove_own_channel(people, dns):
    channel = push_channel_add(user=people.bob, label="old phone", url="ntfys://ntfy.sh/x-y-z")
    response = browser(people.bob).post(f"/staff/profile/push/{channel.pk}/remove/", follow=True)
    assert "Push channel “old phone” removed." in response.content.decode()
    assert not PushChannel.objects.exists()


@pytest.mark.parametrize("action", ["remove", "test"])
def test_someone_elses_channel_looks_missing(people, dns, action):
    channel = push_channel_add(user=people.bob, label="phone", url="ntfys://ntfy.sh/x-y-z")
    dave = browser(people.dave)
    response = dave.post(f"/staff/profile/push/{channel.pk}/{action}/")
    missing = dave.post(f"/staff/profile/push/{channel.pk + 1000}/{action}/")
    assert response.status_code == missing.status_code == 404
    assert PushChannel.objects.filter(pk=channel.pk).exists()
    assert not OutboxMessage.objects.exists()
