"""The procedure's clocks end to end: reports submitted through the form,
the real task worker, a real SMTP server and a real push receiver, and a
controlled clock (time-machine) instead of sleeps."""

import time
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conftest import PASSWORD, browser
from ombud.accounts.services import user_create
from ombud.cases.clocks import MAX_PAGE_ROUNDS, REMINDER_BEFORE, paging_start
from ombud.cases.models import Case, Status
from ombud.cases.services.workflow import case_acknowledge, case_mark_urgent
from ombud.cases.tasks import case_escalate, case_meeting_reminder
from ombud.notify.models import OutboxMessage
from ombud.notify.services import push_channel_add
from ombud.orgs.models import Membership, Role
from tests.support import notify as testing

pytestmark = pytest.mark.django_db(transaction=True)

DESCRIPTION = "DESC-MARKER-5d1e he would not stop"
LOCATION = "LOC-MARKER-88aa Room B by the stairs"
RESPONDERS = ["alice", "bob", "dave", "erin"]


@pytest.fixture
def team(people, receiver):
    """Org A: alice chairs, bob, dave and erin respond; each has a phone
    push channel (path /<name> on the receiver)."""
    erin = user_create(email="erin@a.example", password=PASSWORD, display_name="Erin")
    Membership.objects.create(user=erin, organisation=people.org_a, role=Role.RESPONDER)
    people.erin = erin
    for name in RESPONDERS:
        push_channel_add(user=getattr(people, name), label="phone", url=receiver.url(name))
    return people


def submit(client, team, *, ongoing: bool, exclude=("dave",)):
    data = {
        "description": DESCRIPTION,
        "location": LOCATION,
        "consent_public": "no",
        "exclude": [str(getattr(team, name).pk) for name in exclude],
    }
    if ongoing:
        data["ongoing"] = "on"
    response = client.post(team.event_a.get_report_url(), data)
    assert response.status_code == 200, response.content[:1000]
    return Case.objects.get(pk=response.context["case"].pk)


def recuse(team, name, case):
    response = browser(getattr(team, name)).post(f"/org-a/staff/cases/{case.number}/recuse/")
    assert response.status_code == 302


def emails(smtp, name, containing=""):
    return [m for m in smtp.to(f"{name}@a.example") if containing in m.subject]


def acknowledge(team, case, name="bob"):
    """“I'm on it”, through the service the case page calls."""
    case_acknowledge(actor=getattr(team, name), case=Case.objects.get(pk=case.pk))


def window(team) -> timedelta:
    return timedelta(minutes=team.org_a.escalation_minutes, seconds=1)


# --- urgent paging ------------------------------------------------------------------


def test_urgent_report_pages_every_grantee_by_email_and_push_and_nobody_else(
    client, team, smtp, receiver
):
    case = submit(client, team, ongoing=True)  # dave excluded by the reporter
    recuse(team, "erin", case)  # erin recuses before the worker gets to it
    testing.run_worker()

    assert smtp.recipients() == {"alice@a.example", "bob@a.example"}
    assert receiver.paths() == {"alice", "bob"}
    for name in ("alice", "bob"):
        [page] = emails(smtp, name)
        assert page.subject == f"[Ombud] ONGOING incident at PyConf A (case {case.number})"
        assert f"http://localhost:8000/org-a/staff/cases/{case.number}/" in page.body
        [push] = receiver.to(name)
        assert push.data["title"] == "Ongoing incident at PyConf A"
        assert f"/org-a/staff/cases/{case.number}/" in push.data["message"]
    # Never report content, and no location unless the organisation allows it.
    for text in [m.subject + m.body for m in smtp.mails] + [str(p.data) for p in receiver.pushes]:
        assert "DESC-MARKER" not in text and "LOC-MARKER" not in text
    case.refresh_from_db()
    assert case.page_round == 1
    assert not OutboxMessage.objects.exists()


def test_page_has_the_location_only_when_the_organisation_allows_it(client, team, smtp, receiver):
    team.org_a.page_shows_location = True
    team.org_a.save()
    submit(client, team, ongoing=True)
    testing.run_worker()
    [page] = emails(smtp, "bob")
    assert f"Location: {LOCATION}" in page.body
    assert LOCATION in receiver.to("bob")[0].data["message"]
    assert "DESC-MARKER" not in page.body

    # Turned off later: the next round leaves it out again.
    team.org_a.page_shows_location = False
    team.org_a.save()
    with time_machine.travel(timezone.now() + window(team), tick=True):
        testing.run_worker()
    assert "LOC-MARKER" not in emails(smtp, "bob", "Still unacknowledged")[0].body


def test_nobody_acknowledges_second_round_and_chair_callout_exactly_once(
    client, team, smtp, receiver, clock
):
    case = submit(client, team, ongoing=True)
    recuse(team, "erin", case)
    testing.run_worker()
    assert len(emails(smtp, "bob")) == 1

    clock.shift(window(team) - timedelta(seconds=30))
    testing.run_worker()
    assert len(smtp.mails) == 2, "not before the window ends"

    clock.shift(timedelta(seconds=30))
    testing.run_worker()
    [repage] = emails(smtp, "bob", "Still unacknowledged")
    assert "Nobody has acknowledged" in repage.body
    [callout] = emails(smtp, "alice", "NOBODY HAS ACKNOWLEDGED")
    assert "You are called out as chair" in callout.body
    assert receiver.to("alice")[-1].data["title"].startswith("Nobody has acknowledged")
    assert smtp.recipients() == {"alice@a.example", "bob@a.example"}
    assert receiver.paths() == {"alice", "bob"}
    case.refresh_from_db()
    assert case.page_round == 2

    # The same escalation running again, directly or queued twice, pages nobody.
    sent = len(smtp.mails)
    assert case_escalate.call(case_id=str(case.pk), page_round=1) is False
    case_escalate.enqueue(case_id=str(case.pk), page_round=1)
    testing.run_worker()
    assert len(smtp.mails) == sent and not OutboxMessage.objects.exists()

    # One more window: round 3; then paging stops.
    clock.shift(window(team))
    testing.run_worker()
    assert len(emails(smtp, "alice", "NOBODY HAS ACKNOWLEDGED")) == 2
    clock.shift(window(team) * 5)
    testing.run_worker()
    case.refresh_from_db()
    assert case.page_round == MAX_PAGE_ROUNDS == 3
    assert len(emails(smtp, "bob")) == 3 and len(emails(smtp, "alice")) == 3
    assert len(receiver.to("bob")) == 3


def test_acknowledgement_stops_the_escalation(client, team, smtp, receiver, clock):
    case = submit(client, team, ongoing=True)
    testing.run_worker()
    acknowledge(team, case)

    clock.shift(window(team) * 3)
    testing.run_worker()
    assert len(emails(smtp, "alice")) == 1 and len(emails(smtp, "bob")) == 1
    assert len(receiver.to("bob")) == 1
    case.refresh_from_db()
    assert case.page_round == 1


def test_acknowledgement_after_the_first_escalation_stops_the_next(client, team, smtp, clock):
    case = submit(client, team, ongoing=True)
    clock.shift(window(team))
    testing.run_worker()
    assert len(emails(smtp, "bob")) == 2
    acknowledge(team, case, "alice")
    clock.shift(window(team) * 3)
    testing.run_worker()
    assert len(emails(smtp, "bob")) == 2
    case.refresh_from_db()
    assert case.page_round == 2


def test_a_window_that_ended_while_the_worker_was_stopped_fires_once_when_it_starts(
    client, team, smtp, clock
):
    case = submit(client, team, ongoing=True)
    # The worker is down for an hour: the page and the first escalation are overdue.
    clock.shift(timedelta(hours=1))
    testing.run_worker()
    assert len(emails(smtp, "bob", "[Ombud] ONGOING")) == 1
    assert len(emails(smtp, "bob", "Still unacknowledged")) == 1
    assert len(emails(smtp, "alice", "NOBODY HAS ACKNOWLEDGED")) == 1
    testing.run_worker()
    assert len(emails(smtp, "bob")) == 2, "the late escalation fired exactly once"
    case.refresh_from_db()
    assert case.page_round == 2
    # The next window counts from when the worker came back.
    clock.shift(window(team))
    testing.run_worker()
    assert len(emails(smtp, "bob")) == 3


def test_a_case_marked_ongoing_later_is_paged_once(client, team, smtp, receiver, clock):
    case = submit(client, team, ongoing=False)
    testing.run_worker()
    assert [m.subject for m in emails(smtp, "bob")] == [
        f"[Ombud] New report: PyConf A (case {case.number})"
    ]
    assert receiver.pushes == [], "a new report that is not urgent is email only"

    meeting_was_due = case.meeting_due_at
    case_mark_urgent(actor=team.bob, case=Case.objects.get(pk=case.pk))
    case.refresh_from_db()
    assert case.page_round == 1
    assert case.meeting_due_at is None, "paging replaces the meeting clock"
    with transaction.atomic():
        assert paging_start(case=case) is False, "paging starts once"
    testing.run_worker()
    assert len(emails(smtp, "bob", "[Ombud] ONGOING")) == 1
    assert len(receiver.to("bob")) == 1

    clock.shift(window(team))
    testing.run_worker()
    assert len(emails(smtp, "alice", "NOBODY HAS ACKNOWLEDGED")) == 1

    # Paged instead: no meeting reminders any more.
    clock.move_to(meeting_was_due + timedelta(hours=1))
    testing.run_worker()
    assert [m for m in smtp.mails if "Team meeting" in m.subject] == []


def test_rolled_back_paging_queues_nothing(team, client):
    case = submit(client, team, ongoing=False)
    OutboxMessage.objects.all().delete()
    with pytest.raises(RuntimeError), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(urgent=True)
        case.refresh_from_db()
        paging_start(case=case)
        raise RuntimeError("the service failed after starting the clock")
    assert not OutboxMessage.objects.exists()
    case.refresh_from_db()
    assert case.page_round == 0


# --- the meeting clock -------------------------------------------------------------


def test_meeting_reminders_before_and_after_the_deadline_each_once(client, team, smtp, clock):
    case = submit(client, team, ongoing=False)
    recuse(team, "erin", case)
    testing.run_worker()
    assert len(smtp.mails) == 2  # the new-report notice to alice and bob
    due = case.meeting_due_at
    assert abs(due - case.created_at - timedelta(hours=24)) < timedelta(seconds=1)

    clock.move_to(due - REMINDER_BEFORE - timedelta(minutes=1))
    testing.run_worker()
    assert emails(smtp, "bob", "due soon") == []

    clock.move_to(due - REMINDER_BEFORE + timedelta(minutes=1))
    testing.run_worker()
    testing.run_worker()
    [soon] = emails(smtp, "bob", "Team meeting due soon")
    assert "within 24 hours" in soon.body and "DESC-MARKER" not in soon.body
    assert case_meeting_reminder.call(case_id=str(case.pk), number=1) == "not needed"

    clock.move_to(due + timedelta(minutes=1))
    testing.run_worker()
    [overdue] = emails(smtp, "bob", "Team meeting overdue")
    assert "was due" in overdue.body
    assert case_meeting_reminder.call(case_id=str(case.pk), number=2) == "not needed"
    testing.run_worker()
    assert len(emails(smtp, "alice", "Team meeting")) == 2
    assert len(emails(smtp, "bob", "Team meeting")) == 2
    assert smtp.recipients() == {"alice@a.example", "bob@a.example"}  # not dave, not erin
    case.refresh_from_db()
    assert case.meeting_reminders_sent == 2


def test_no_reminder_once_the_meeting_was_held(client, team, smtp, clock):
    case = submit(client, team, ongoing=False)
    testing.run_worker()
    Case.objects.filter(pk=case.pk).update(status=Status.TRIAGED)
    clock.move_to(case.meeting_due_at + timedelta(hours=1))
    testing.run_worker()
    assert [m for m in smtp.mails if "Team meeting" in m.subject] == []


def test_reminders_missed_while_the_worker_was_stopped_send_only_the_overdue_one(
    client, team, smtp, clock
):
    case = submit(client, team, ongoing=False)
    clock.move_to(case.meeting_due_at + timedelta(hours=3))
    testing.run_worker()
    testing.run_worker()
    assert emails(smtp, "bob", "due soon") == []
    assert len(emails(smtp, "bob", "Team meeting overdue")) == 1
    case.refresh_from_db()
    assert case.meeting_reminders_sent == 2


def test_urgent_case_has_no_meeting_reminders(client, team, smtp, clock):
    case = submit(client, team, ongoing=True)
    acknowledge(team, case)
    clock.shift(timedelta(days=2))
    testing.run_worker()
    assert [m for m in smtp.mails if "Team meeting" in m.subject] == []


# --- how fast the first page goes out --------------------------------------------------


def test_time_from_submit_to_first_page_delivered(client, team, smtp, receiver):
    """The worker polls every second when idle, as `manage.py db_worker` does
    by default; the page goes out on its next poll after the report commits."""
    with testing.background_worker(interval=1.0):
        time.sleep(0.2)  # let the worker reach its idle poll
        started = time.monotonic()
        submit(client, team, ongoing=True)
        submitted = time.monotonic()
        mail = smtp.wait_for(lambda m: "bob@a.example" in m.to, timeout=15)
        push = receiver.wait_for(lambda p: p.path.strip("/") == "bob", timeout=15)
    assert mail is not None and push is not None
    email_s, push_s = mail.received - started, push.received - started
    # How much of it was the worker's own work: from picking up the first
    # delivery to the mail server having the page.
    first = (
        DBTaskResult.objects.filter(
            task_path="ombud.notify.tasks.outbox_deliver", started_at__isnull=False
        )
        .order_by("started_at")
        .first()
    )
    work_s = mail.received_at - first.started_at.timestamp()
    print(
        f"\nsubmit → first page delivered: email {email_s:.3f} s, push {push_s:.3f} s; "
        f"report POST {submitted - started:.3f} s, worker pick-up to email delivered "
        f"{work_s:.3f} s, the rest is waiting for the worker's next poll (every 1 s)"
    )
    assert email_s < 10 and push_s < 10
