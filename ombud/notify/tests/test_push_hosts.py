"""Push channels cannot make the server call where it should not: only real
push services, only public addresses (checked when the channel is saved and
again on every lookup while sending), and removed members cannot use the
profile at all. DNS is faked (the `dns` fixture); nothing leaves the machine."""

import pytest

from conftest import browser
from ombud.lib import crypto
from ombud.notify import sealing
from ombud.notify.models import OutboxMessage, PushChannel
from ombud.notify.services import push_channel_add, push_channel_test
from ombud.notify.tasks import outbox_deliver
from ombud.orgs.models import Membership
from tests.support import notify as testing
from tests.support.notify import PUBLIC_ADDRESS as PUBLIC

PROFILE = "/staff/profile/"
REFUSED_HOST = "must resolve to a public internet address"


def add(client, url):
    return client.post(PROFILE, {"label": "phone", "url": url})


# --- at save: which services --------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8080/",
        "jsons://169.254.169.254/latest/meta-data/?-X-Method=GET",
        "xml://push.example.org/",
        "form://push.example.org/",
        "apprise://push.example.org/token",
        "mailto://user:password@push.example.org",
        "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
        "syslog://",
    ],
)
def test_only_real_push_services_are_accepted(people, dns, url):
    response = add(browser(people.bob), url)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Ombud pushes only to" in html and "ntfy" in html
    assert not PushChannel.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "ntfys://ntfy.sh/ombud-topic-9f8e7d",
        "ntfy://ombud-topic-9f8e7d",  # ntfy.sh, by ntfy's cloud mode
        "ntfys://push.example.org/ombud-topic",
        "gotifys://push.example.org/AbCdEfGhIjKlMnO",
        "matrixs://user:password@push.example.org/#incidents",
        "tgram://123456789:abcdefg_hijklmnop/12315544/",
        "discord://1234567890/abcdefghijk",
        "pover://" + "u" * 30 + "@" + "a" * 30,
    ],
)
def test_push_services_on_public_hosts_are_accepted(people, dns, url):
    response = add(browser(people.bob), url)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert PushChannel.objects.filter(user=people.bob).count() == 1


# --- at save: which hosts -----------------------------------------------------------

PRIVATE_HOSTS = [
    # (url, DNS answer for the name in it, refused even with OMBUD_PUSH_ALLOW_PRIVATE)
    ("ntfy://127.0.0.1:8080/topic", None, False),
    ("ntfy://2130706433/topic", None, False),  # 127.0.0.1 as one number
    ("ntfy://[::1]:8080/topic", None, False),
    ("gotify://10.0.0.5/AbCdEfGhIjKlMnO", None, False),
    ("signal://192.168.1.20:8080/+12345678901/+12345678902", None, False),
    ("ntfys://internal.example/topic", ["10.1.2.3"], False),
    ("ntfys://mapped.example/topic", ["::ffff:127.0.0.1"], False),
    ("ntfys://sixtofour.example/topic", ["2002:a00:1::1"], False),  # 10.0.0.1 by 6to4
    ("ntfys://mixed.example/topic", [PUBLIC, "192.168.0.9"], False),  # every answer counts
    ("matrixs://user:password@ula.example/#room", ["fd12:3456::1"], False),
    ("ntfys://169.254.169.254/topic", None, True),  # cloud metadata
    ("ntfys://metadata.example/topic", ["169.254.169.254"], True),
    ("ntfy://[fe80::1]/topic", None, True),
    ("ntfy://224.0.0.1/topic", None, True),
    ("ntfy://0.0.0.0/topic", None, True),
    ("ntfy://240.0.0.1/topic", None, True),
    ("ntfys://multicast6.example/topic", ["ff02::1"], True),
    ("ntfys://nowhere.example/topic", [], True),  # does not resolve
]


@pytest.mark.parametrize(("url", "answer", "always"), PRIVATE_HOSTS)
def test_private_and_special_addresses_are_refused(people, dns, settings, url, answer, always):
    if answer is not None:
        dns[url.split("://")[1].split("/")[0].split("@")[-1]] = answer
    response = add(browser(people.bob), url)
    assert response.status_code == 400
    assert REFUSED_HOST in response.content.decode()
    assert not PushChannel.objects.exists()

    # A self-hosted ntfy on the LAN: private and loopback addresses may be
    # allowed; link-local, multicast, reserved and unspecified never are.
    settings.OMBUD_PUSH_ALLOW_PRIVATE = True
    response = add(browser(people.bob), url)
    assert response.status_code == (400 if always else 302)
    assert PushChannel.objects.exists() is not always


def test_refusal_does_not_say_what_the_name_resolved_to(people, dns):
    dns["internal.example"] = ["10.1.2.3"]
    refused_private = add(browser(people.bob), "ntfys://internal.example/topic")
    refused_missing = add(browser(people.bob), "ntfys://nowhere.example/topic")
    for response in (refused_private, refused_missing):
        html = response.content.decode()
        assert "10.1.2.3" not in html
        assert REFUSED_HOST in html


# --- at send: the name is looked up again, and every lookup is checked ------------


@pytest.fixture
def local_ntfy():
    with testing.push_receiver() as receiver:
        yield receiver


def deliver(message):
    return outbox_deliver.call(message_id=message.pk)


def test_a_name_that_points_somewhere_private_at_send_time_fails_the_delivery(
    people, dns, settings, local_ntfy
):
    dns["rebind.example"] = [PUBLIC]  # public when the channel is saved ...
    channel = push_channel_add(
        user=people.bob, label="phone", url=f"ntfy://rebind.example:{local_ntfy.port}/bob"
    )
    dns["rebind.example"] = ["127.0.0.1"]  # ... and this machine when the push goes out
    message = push_channel_test(user=people.bob, channel=channel)
    assert deliver(message) == "retry"
    assert local_ntfy.pushes == [], "no request reached the private address"
    message.refresh_from_db()
    assert message.attempts == 1 and message.last_error == "PushHostRefused"

    # The profile says it failed, never why.
    html = browser(people.bob).get(PROFILE).content.decode()
    assert "failed" in html
    for why in ("PushHostRefused", "127.0.0.1", "rebind.example"):
        assert why not in html

    # The same push with private addresses allowed reaches the server: it
    # was the address that stopped it.
    settings.OMBUD_PUSH_ALLOW_PRIVATE = True
    assert deliver(message) == "sent"
    [push] = local_ntfy.to("bob")
    assert push.data["title"] == "Ombud test push"


def test_a_redirect_to_a_private_address_is_not_followed(people, dns, settings, local_ntfy):
    settings.OMBUD_PUSH_ALLOW_PRIVATE = True  # the ntfy server itself is on the LAN
    dns["metadata.example"] = ["169.254.169.254"]
    local_ntfy.redirect_to = "http://metadata.example/latest/meta-data/"
    channel = push_channel_add(user=people.bob, label="phone", url=local_ntfy.url("bob"))
    message = push_channel_test(user=people.bob, channel=channel)
    assert deliver(message) == "retry"
    message.refresh_from_db()
    assert message.last_error == "PushHostRefused"


def test_a_channel_stored_before_the_allow_list_is_not_used(people, dns, settings, local_ntfy):
    settings.OMBUD_PUSH_ALLOW_PRIVATE = True
    channel = PushChannel.objects.create(
        user=people.bob,
        label="old",
        url_box=crypto.secretbox_seal(
            sealing.push_url_key(), f"json://127.0.0.1:{local_ntfy.port}/bob".encode()
        ),
    )
    message = push_channel_test(user=people.bob, channel=channel)
    assert deliver(message) == "retry"
    assert local_ntfy.pushes == []
    message.refresh_from_db()
    assert message.last_error == "PushURLUnusable"


# --- removed members ----------------------------------------------------------------


def test_a_removed_member_cannot_use_the_profile_or_push_channels(people, dns):
    channel = push_channel_add(user=people.bob, label="phone", url="ntfys://ntfy.sh/x-y-z")
    bob = browser(people.bob)
    Membership.objects.filter(user=people.bob).delete()

    response = bob.get(PROFILE)
    assert response.status_code == 403
    assert "no longer a member of any organisation" in response.content.decode()
    assert add(bob, "ntfys://ntfy.sh/another-topic").status_code == 403
    assert bob.post(f"/staff/profile/push/{channel.pk}/test/").status_code == 403
    assert bob.post(f"/staff/profile/push/{channel.pk}/remove/").status_code == 403
    assert list(PushChannel.objects.values_list("pk", flat=True)) == [channel.pk]
    assert not OutboxMessage.objects.exists()


def test_a_deactivated_account_cannot_use_the_profile_or_push_channels(people, dns):
    channel = push_channel_add(user=people.bob, label="phone", url="ntfys://ntfy.sh/x-y-z")
    bob = browser(people.bob)
    people.bob.is_active = False
    people.bob.save()

    assert bob.get(PROFILE).status_code in (302, 403)
    assert add(bob, "ntfys://ntfy.sh/another-topic").status_code in (302, 403)
    assert bob.post(f"/staff/profile/push/{channel.pk}/test/").status_code in (302, 403)
    assert bob.post(f"/staff/profile/push/{channel.pk}/remove/").status_code in (302, 403)
    assert list(PushChannel.objects.values_list("pk", flat=True)) == [channel.pk]
    assert not OutboxMessage.objects.exists()
