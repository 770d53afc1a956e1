"""One client cannot lock every reporter out: attempts the per-address limit
already refused do not use up the limit shared by everyone, and an IPv6
client cannot escape its limit by hopping through its own /64."""

import pytest

from ombud.lib.throttle import address_group

ENTER = "/org-a/report/status/"
LOST = "/org-a/report/status/lost/"
FLOODER = "203.0.113.66"
REPORTER = "198.51.100.7"


def test_a_flood_from_one_address_leaves_another_addresss_receipt_working(
    client, people, submit_report, settings
):
    settings.OMBUD_RECEIPT_TRIES_PER_IP = 10
    settings.OMBUD_RECEIPT_TRIES_GLOBAL = 50
    _, receipt = submit_report(people.event_a)
    statuses = [
        client.post(ENTER, {"receipt": f"GUESS-{i}"}, REMOTE_ADDR=FLOODER).status_code
        for i in range(200)  # four times the limit shared by every address
    ]
    assert statuses[:10] == [404] * 10 and set(statuses[10:]) == {429}
    response = client.post(ENTER, {"receipt": receipt}, REMOTE_ADDR=REPORTER)
    assert response.status_code == 302 and response.url == "/org-a/report/status/case/"


def test_a_flood_of_the_lost_receipt_form_leaves_it_working_for_others(client, people):
    statuses = [
        client.post(LOST, {"email": f"guess{i}@example.org"}, REMOTE_ADDR=FLOODER).status_code
        for i in range(260)  # more than the 200 shared by every address
    ]
    assert set(statuses[5:]) == {429}
    response = client.post(LOST, {"email": "me@example.org"}, REMOTE_ADDR=REPORTER)
    assert response.status_code == 200
    assert "Too many tries" not in response.content.decode()


def test_the_shared_limit_still_holds_against_many_addresses(client, people, settings):
    settings.OMBUD_RECEIPT_TRIES_PER_IP = 10
    settings.OMBUD_RECEIPT_TRIES_GLOBAL = 30
    statuses = [
        client.post(ENTER, {"receipt": "GUESS"}, REMOTE_ADDR=f"192.0.2.{i}").status_code
        for i in range(40)
    ]
    assert statuses.count(404) == 30 and statuses[30:] == [429] * 10


def test_ipv6_addresses_of_one_64_share_a_limit(client, people, submit_report, settings):
    settings.OMBUD_RECEIPT_TRIES_PER_IP = 10
    _, receipt = submit_report(people.event_a)
    statuses = [
        client.post(ENTER, {"receipt": "GUESS"}, REMOTE_ADDR=f"2001:db8:1:2::{i:x}").status_code
        for i in range(1, 12)
    ]
    assert statuses == [404] * 10 + [429]
    # Another address of the same /64, however written, is refused too ...
    same = client.post(ENTER, {"receipt": receipt}, REMOTE_ADDR="2001:DB8:1:2:ffff:1:2:3")
    assert same.status_code == 429
    # ... and the next /64 is someone else.
    other = client.post(ENTER, {"receipt": receipt}, REMOTE_ADDR="2001:db8:1:3::1")
    assert other.status_code == 302


@pytest.mark.parametrize(
    ("address", "group"),
    [
        ("192.0.2.10", "192.0.2.10"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.10", "192.0.2.10"),  # an IPv4 client seen through IPv6
        ("", ""),
        ("not an address", "not an address"),
    ],
)
def test_address_group(address, group):
    assert address_group(address) == group
