"""The procedure's clocks (DESIGN §4): paging for ongoing incidents with
escalation, and reminders for the team meeting. Services call `clocks_start`
and `paging_start` inside their transaction; what they queue (outbox rows,
timed tasks) commits or rolls back with it. Tasks take ids only.

Paging. An ongoing incident pages every responder who holds a grant for the
case at once, by email and on every push channel they set up (round 1). The
page says only: the event, "ongoing incident", the location if the
organisation allows it, and a link. If nobody has acknowledged it
`escalation_minutes` later, everyone is paged again and the chair(s) who hold
the case are called out (round 2); one more window later that repeats
(round 3), and paging stops there: MAX_PAGE_ROUNDS = 3, so with the default
10-minute window the team is paged at 0, 10 and 20 minutes. After that the
case stays at the top of the dashboard until someone acknowledges it.

Each escalation task acts only while the case is still unacknowledged and
still at the round it was scheduled for; it moves the case to the next round
with a conditional UPDATE in the same transaction that queues the pages, so
it pages exactly once even if it runs twice, and a window that ended while
the worker was stopped pages once when the worker starts again.

Meeting reminders. A case that is not urgent tells its responders by email
at once, and reminds them twice while it has not been triaged (status new,
acknowledged or reopened): REMINDER_BEFORE ahead of `meeting_due_at` (or
half-way, for windows shorter than twice that) and at the deadline. Each is
sent at most once (`meeting_reminders_sent` moves forward with a conditional
UPDATE); a "due soon" reminder that only runs after the deadline is dropped
in favour of the "overdue" one. A case marked ongoing later gets no more
meeting reminders: it is paged instead.

Who is told is decided when a message is queued, from the grants as they
are then, and checked again by the outbox just before sending: an excluded
or recused responder holds no grant and is never paged or reminded."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone

from ombud.accounts.models import User
from ombud.cases.models import Case, Status
from ombud.cases.tasks import case_escalate, case_meeting_reminder, case_notify_new
from ombud.lib import crypto
from ombud.notify.models import OutboxMessage, PushChannel
from ombud.notify.services import email_render, notify_user
from ombud.orgs.models import Membership, Role

MAX_PAGE_ROUNDS = 3
REMINDER_BEFORE = timedelta(hours=2)
# The meeting is still to be held.
MEETING_OPEN_STATUSES = (Status.NEW, Status.ACKNOWLEDGED, Status.REOPENED)

Topic = OutboxMessage.Topic


# --- starting the clocks ---------------------------------------------------------


def clocks_start(*, case) -> None:
    """A new case arrived: page now if it is urgent, else tell the team and
    schedule the meeting reminders."""

    with transaction.atomic():
        if case.urgent:
            paging_start(case=case)
        else:
            case_notify_new.enqueue(case_id=str(case.pk))
            meeting_reminders_schedule(case=case)


def paging_start(*, case) -> bool:
    """Page every entitled responder now (round 1) and start the escalation
    clock. Does nothing if the case was paged already; returns whether it paged."""
    with transaction.atomic():
        started = Case.objects.filter(pk=case.pk, page_round=0).update(page_round=1)
        if not started:
            return False
        case.page_round = 1
        page_team(case=case, page_round=1)
        escalation_schedule(case=case, page_round=1)
    return True


def escalation_schedule(*, case, page_round: int) -> None:
    if page_round >= MAX_PAGE_ROUNDS:
        return
    run_after = timezone.now() + timedelta(minutes=case.organisation.escalation_minutes)
    case_escalate.using(run_after=run_after).enqueue(case_id=str(case.pk), page_round=page_round)


def escalate(*, case_id: str, page_round: int) -> bool:
    """The escalation window of `page_round` ended: if the case is still
    unacknowledged and at that round, page round `page_round + 1`."""
    with transaction.atomic():
        moved = (
            Case.objects.filter(
                pk=case_id,
                page_round=page_round,
                urgent=True,
                acknowledged_at__isnull=True,
            )
            .exclude(status=Status.CLOSED)
            .update(page_round=page_round + 1)
        )
        if not moved:
            return False
        case = Case.objects.select_related("organisation", "event").get(pk=case_id)
        page_team(case=case, page_round=page_round + 1)
        escalation_schedule(case=case, page_round=page_round + 1)
    return True


def meeting_reminders_schedule(*, case) -> None:
    due = case.meeting_due_at
    if due is None:
        return
    lead = min(REMINDER_BEFORE, (due - timezone.now()) / 2)
    if lead > timedelta(0):
        case_meeting_reminder.using(run_after=due - lead).enqueue(case_id=str(case.pk), number=1)
    case_meeting_reminder.using(run_after=due).enqueue(case_id=str(case.pk), number=2)


def meeting_remind(*, case_id: str, number: int) -> str:
    """Reminder 1 ("due soon") or 2 ("overdue"), each at most once, and only
    while the meeting has not been held."""

    case = Case.objects.select_related("organisation", "event").filter(pk=case_id).first()
    if case is None or case.meeting_due_at is None or case.urgent:
        return "no meeting"  # an ongoing incident is acted on at once, without one
    now = timezone.now()
    if number == 1 and now >= case.meeting_due_at:
        return "late: the overdue reminder replaces it"
    if number == 2 and now < case.meeting_due_at:
        # The deadline moved later since this was scheduled.
        case_meeting_reminder.using(run_after=case.meeting_due_at).enqueue(
            case_id=case_id, number=2
        )
        return "moved"
    with transaction.atomic():
        marked = Case.objects.filter(
            pk=case_id, meeting_reminders_sent__lt=number, status__in=MEETING_OPEN_STATUSES
        ).update(meeting_reminders_sent=number)
        if not marked:
            return "not needed"
        _meeting_reminder_send(case=case, overdue=number == 2)
    return "sent"


# --- who is told, and what ---------------------------------------------------------


def recipients(*, case):
    """The responders who hold a grant for the case right now and are still
    active members of its organisation, with their push channels."""

    return (
        User.objects.filter(
            grants__case=case,
            is_active=True,
            memberships__organisation_id=case.organisation_id,
        )
        .distinct()
        .order_by("pk")
        .prefetch_related(Prefetch("push_channels", queryset=PushChannel.objects.order_by("pk")))
    )


def case_url(case) -> str:
    return settings.SITE_ROOT + reverse("case-detail", args=[case.organisation.slug, case.number])


def page_location(case) -> str:
    """The incident location for a page, only if the organisation allows it."""
    if not case.organisation.page_shows_location or not case.page_location_box:
        return ""
    try:
        return crypto.secretbox_open(
            crypto.pepper_key("page-location"), case.page_location_box
        ).decode()
    except crypto.DecryptionError:
        return ""


def page_team(*, case, page_round: int) -> int:
    """Queue the pages of one round; returns how many messages were queued."""
    organisation, event = case.organisation, case.event
    url = case_url(case)
    location = page_location(case)
    chairs = set(
        Membership.objects.filter(organisation=organisation, role=Role.CHAIR).values_list(
            "user_id", flat=True
        )
    )
    waited = organisation.escalation_minutes * (page_round - 1)
    where = f"Location: {location}\n" if location else ""
    queued = 0
    context = {
        "case": case,
        "event": event,
        "url": url,
        "location": location,
        "waited": waited,
        "page_round": page_round,
    }
    for user in recipients(case=case):
        callout = page_round > 1 and user.pk in chairs
        if callout:
            template = "page_chair_callout"
            push_title = f"Nobody has acknowledged: ongoing incident at {event.name}"
        elif page_round > 1:
            template = "page_escalation"
            push_title = f"Still unacknowledged: ongoing incident at {event.name}"
        else:
            template = "page_urgent"
            push_title = f"Ongoing incident at {event.name}"
        subject, body = email_render(template, context)
        push_body = f"Case {case.number}. {where}{url}"
        queued += len(
            notify_user(
                organisation=organisation,
                user=user,
                subject=subject,
                body=body,
                topic=Topic.ESCALATION if page_round > 1 else Topic.PAGE,
                case=case,
                push_title=push_title,
                push_body=push_body,
            )
        )
    return queued


def notify_team(*, case, headline: str, topic) -> int:
    """Email the responders who hold the case: event, what kind of news and a
    link, never what was written."""
    subject, body = email_render(
        "case_news", {"case": case, "headline": headline, "url": case_url(case)}
    )
    return _email_holders(case=case, subject=subject, body=body, topic=topic)


def _email_holders(*, case, subject: str, body: str, topic) -> int:
    """Queue one email to each responder who holds the case."""
    return sum(
        len(
            notify_user(
                organisation=case.organisation,
                user=user,
                subject=subject,
                body=body,
                topic=topic,
                case=case,
            )
        )
        for user in recipients(case=case)
    )


def _meeting_reminder_send(*, case, overdue: bool) -> int:
    try:
        zone = ZoneInfo(case.event.timezone)
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    due = timezone.localtime(case.meeting_due_at, zone).strftime("%a %d %b %H:%M %Z")
    subject, body = email_render(
        "meeting_overdue" if overdue else "meeting_due_soon",
        {
            "case": case,
            "due": due,
            "hours": case.organisation.meeting_hours,
            "url": case_url(case),
        },
    )
    return _email_holders(case=case, subject=subject, body=body, topic=Topic.MEETING_REMINDER)
