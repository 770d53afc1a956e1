from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from ombud.notify.models import OutboxMessage

# A message whose next attempt is this late, and that nobody is sending, has
# lost its delivery task (the worker is not running, or died mid-send).
OVERDUE_AFTER = timedelta(minutes=10)
PAGE_ROWS = 200


def outbox_pending(*, organisation):
    """Messages of the organisation not delivered yet, oldest first. Only
    metadata is read: the sealed payload is left in the database."""
    return (
        OutboxMessage.objects.filter(organisation=organisation)
        .defer("payload")
        .order_by("created_at", "pk")
    )


def _overdue(now) -> Q:
    return Q(next_attempt_at__lt=now - OVERDUE_AFTER) & (
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )


def _gave_up() -> Q:
    return Q(next_attempt_at__isnull=True, attempts__gt=0)


def outbox_stuck(*, organisation, now=None):
    """Given up, or overdue: what the chair's "try again" acts on."""
    now = now or timezone.now()
    return OutboxMessage.objects.filter(organisation=organisation).filter(
        _gave_up() | _overdue(now)
    )


def outbox_summary(*, organisation, now=None) -> dict:
    now = now or timezone.now()
    return OutboxMessage.objects.filter(organisation=organisation).aggregate(
        waiting=Count("pk"),
        failing=Count("pk", filter=Q(attempts__gt=0, next_attempt_at__isnull=False)),
        gave_up=Count("pk", filter=_gave_up()),
        overdue=Count("pk", filter=_overdue(now)),
    )


def push_tests_pending(*, user):
    return OutboxMessage.objects.filter(
        user=user, topic=OutboxMessage.Topic.TEST, organisation__isnull=True
    ).defer("payload")
