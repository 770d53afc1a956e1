"""The dashboard: what needs a responder first, filters, counts, and a constant
number of queries however many cases there are."""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import browser
from ombud.cases.models import Case, Grant, Status

DASHBOARD = "/org-a/staff/"


def tables(response) -> list[list[int]]:
    """The case numbers of each table on the page, in the order shown."""
    body = response.content.decode()
    return [
        [int(n) for n in re.findall(r'<td class="num"><a [^>]*>#(\d+)</a>', table)]
        for table in re.findall(r'<table class="cases">(.*?)</table>', body, re.S)
    ]


def listed(response) -> list[int]:
    """The case numbers of the main table (the last one: "Assigned to you" comes first)."""
    found = tables(response)
    return found[-1] if found else []


def row(response, number: int) -> str:
    body = response.content.decode()
    found = re.search(rf"<tr[^>]*>\s*<td class=\"num\"><a [^>]*>#{number}</a>.*?</tr>", body, re.S)
    assert found, number
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(0)).split())


def counts(response) -> str:
    body = response.content.decode()
    found = re.search(r'<p class="counts">(.*?)</p>', body, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


@pytest.fixture
def cases(people, submit_report):
    """Cases in every situation the dashboard ranks, numbered in the order
    they arrived (newer cases have higher numbers). Their clocks are set
    directly: what is under test is how the dashboard shows them."""
    past = timezone.now() - timedelta(hours=1)

    def report(event=None, **fields):
        case, _ = submit_report(event or people.event_a, **fields)
        return case

    c = {}
    c["fresh"] = report()  # 1: nothing due yet
    c["closed"] = report()  # 2
    Case.objects.filter(pk=c["closed"].pk).update(status=Status.CLOSED)
    c["ongoing"] = report(ongoing="on")  # 3: urgent, nobody on it
    c["meeting_overdue"] = report()  # 4
    Case.objects.filter(pk=c["meeting_overdue"].pk).update(meeting_due_at=past)
    c["followup_overdue"] = report()  # 5
    Case.objects.filter(pk=c["followup_overdue"].pk).update(
        status=Status.TRIAGED, followup_due_at=past
    )
    c["ongoing_acknowledged"] = report(ongoing="on")  # 6
    Case.objects.filter(pk=c["ongoing_acknowledged"].pk).update(
        acknowledged_at=past, acknowledged_by=people.alice, status=Status.ACKNOWLEDGED
    )
    c["met_late"] = report()  # 7: meeting deadline passed, but the meeting was held
    Case.objects.filter(pk=c["met_late"].pk).update(status=Status.TRIAGED, meeting_due_at=past)
    # 8: follow-up deadline passed, but there is nobody to follow up with
    # (no receipt, no contact details, like an anonymous in-person report)
    c["unreachable"] = report(event=people.event_a.organisation.events.get(is_standing=True))
    Case.objects.filter(pk=c["unreachable"].pk).update(
        status=Status.TRIAGED, followup_due_at=past, receipt_lookup=None
    )
    c["not_bobs"] = report(exclude=[str(people.bob.pk)])  # 9
    return {name: Case.objects.get(pk=case.pk) for name, case in c.items()}


def test_most_pressing_first_closed_last(people, cases):
    response = browser(people.bob).get(DASHBOARD)

    assert response.status_code == 200
    n = {name: case.number for name, case in cases.items()}
    assert listed(response) == [
        n["ongoing"],  # urgent and nobody on it
        n["followup_overdue"],  # overdue, newest first
        n["meeting_overdue"],
        n["unreachable"],  # the rest, newest first
        n["met_late"],
        n["ongoing_acknowledged"],
        n["fresh"],
        n["closed"],  # closed last
    ]
    assert "nobody on it" in row(response, n["ongoing"])
    assert "Alice is on it" in row(response, n["ongoing_acknowledged"])
    assert "overdue" in row(response, n["meeting_overdue"])
    assert "overdue" in row(response, n["followup_overdue"])
    assert "no way to reach the reporter" in row(response, n["unreachable"])
    assert "overdue" not in row(response, n["met_late"])
    assert "overdue" not in row(response, n["fresh"])


def test_counts_per_state_are_of_the_cases_i_can_see(people, cases):
    bob = counts(browser(people.bob).get(DASHBOARD))
    assert bob.startswith("8 cases you can see:")
    assert re.findall(r"(\w[\w ]*?): (\d+)", bob.split(":", 1)[1]) == [
        ("New", "3"),
        ("Acknowledged", "1"),
        ("Triaged", "3"),
        ("Closed", "1"),
    ]
    alice = counts(browser(people.alice).get(DASHBOARD))
    assert alice.startswith("9 cases you can see:")


def test_filters_by_event_status_and_assignee(people, cases):
    bob = browser(people.bob)
    n = {name: case.number for name, case in cases.items()}
    standing = people.org_a.events.get(is_standing=True)

    assert listed(bob.get(DASHBOARD, {"event": standing.pk})) == [n["unreachable"]]
    assert n["unreachable"] not in listed(bob.get(DASHBOARD, {"event": people.event_a.pk}))
    assert listed(bob.get(DASHBOARD, {"status": "closed"})) == [n["closed"]]
    assert listed(bob.get(DASHBOARD, {"status": "triaged"})) == [
        n["followup_overdue"],
        n["unreachable"],
        n["met_late"],
    ]
    assert listed(bob.get(DASHBOARD, {"status": "followed_up"})) == []

    Case.objects.filter(pk=cases["fresh"].pk).update(assignee=people.alice)
    assert listed(bob.get(DASHBOARD, {"assignee": people.alice.pk})) == [n["fresh"]]
    assert listed(bob.get(DASHBOARD, {"assignee": people.bob.pk})) == []
    everything = listed(bob.get(DASHBOARD))
    assert len(everything) == 8

    # Nonsense in the address bar shows the dashboard unfiltered, never an error.
    for nonsense in (
        {"event": "abc"},
        {"event": "9" * 30},
        {"event": people.event_b.pk},  # another organisation's event
        {"status": "bogus"},
        {"assignee": "-1"},
        {"assignee": "9" * 30},
        {"assignee": people.charlie.pk},  # not in this organisation
        {"event": "", "status": "", "assignee": ""},
    ):
        response = bob.get(DASHBOARD, nonsense)
        assert response.status_code == 200, nonsense
        assert listed(response) == everything, nonsense


def test_assigned_to_you_comes_first(people, cases):
    bob = browser(people.bob)
    Case.objects.filter(pk__in=[cases["fresh"].pk, cases["closed"].pk]).update(assignee=people.bob)
    response = bob.get(DASHBOARD)
    assert "Assigned to you" in response.content.decode()
    mine, everything = tables(response)
    assert mine == [cases["fresh"].number, cases["closed"].number]
    assert len(everything) == 8


# --- scale ---------------------------------------------------------------------------------

# The dashboard's queries whatever the number of cases: session, user,
# organisation, membership, counts per state, "assigned to you", the page's
# case count and its cases (100 a page), the filter form's two lists, and
# the new receipts waiting for this responder's key (ombud.cases.services.receipts).
DASHBOARD_QUERIES = 11


def _bulk_cases(people, first: int, count: int) -> None:
    """`count` cases that bob holds, in a mix of states, straight into the
    database: the dashboard shows metadata only, so no report is needed."""
    now = timezone.now()
    statuses = list(Status)
    events = [people.event_a, people.org_a.events.get(is_standing=True)]
    cases = []
    for number in range(first, first + count):
        urgent = number % 7 == 0
        acknowledged = urgent and number % 2 == 0
        cases.append(
            Case(
                organisation=people.org_a,
                event=events[number % 2],
                number=number,
                status=statuses[number % len(statuses)],
                urgent=urgent,
                channel="web",
                recovery_wrap=b"-",
                meeting_due_at=now + timedelta(hours=(number % 48) - 24),
                followup_due_at=now + timedelta(days=(number % 14) - 7),
                reporter_contact_available=number % 3 == 0,
                assignee=people.bob if number % 5 == 0 else people.alice,
                acknowledged_at=now if acknowledged else None,
                acknowledged_by=people.dave if acknowledged else None,
            )
        )
    Case.objects.bulk_create(cases, batch_size=500)
    Grant.objects.bulk_create(
        (Grant(case=case, user=people.bob, wrapped_key=b"-") for case in cases), batch_size=500
    )


def test_dashboard_queries_do_not_grow_with_the_number_of_cases(
    people, django_assert_max_num_queries
):
    bob = browser(people.bob)
    bob.get(DASHBOARD)  # warm up: templates compiled, session loaded once
    measured = {}
    total = 0
    for size in (10, 2000):
        _bulk_cases(people, first=total + 1, count=size - total)
        total = size
        with django_assert_max_num_queries(DASHBOARD_QUERIES) as captured:
            started = time.perf_counter()
            response = bob.get(DASHBOARD)
            elapsed = time.perf_counter() - started
        assert response.status_code == 200
        assert len(listed(response)) == min(size, 100)  # one page
        assert f"{size:,} cases you can see".replace(",", "") in counts(response).replace(",", "")
        measured[size] = (len(captured.captured_queries), elapsed)
        print(
            f"\ndashboard with {size} cases: {len(captured.captured_queries)} queries, "
            f"{elapsed * 1000:.0f} ms",
            end="",
        )
    print()
    assert measured[10][0] == measured[2000][0]
