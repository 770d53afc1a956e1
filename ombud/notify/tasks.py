"""Delivery of the outbox. Tasks take ids only.

A delivery run claims its row with a conditional UPDATE (a lease), sends
outside any transaction, and deletes the row. When the mail server or push
service fails, the attempt is counted, the exception's class name (never its
message: transport errors quote addresses) is kept for the chair's outbox
page, and the next attempt is scheduled with exponential backoff: 30 s, 1, 2,
4, ... minutes, at most an hour apart, 12 attempts (about 5 hours) in all.
After that the row stays, marked as given up, until the chair retries it.

A worker killed in the middle of a send can deliver that one message twice
(at least once, never lost); a second run of the same task while the first
still holds the lease does nothing."""

import logging
from datetime import timedelta

import apprise
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from ombud.notify.hosts import PUSH_SERVICES, public_lookups_only, push_scheme
from ombud.notify.models import OutboxMessage
from ombud.notify.sealing import outbox_open, push_url_open, still_entitled

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
LEASE = timedelta(minutes=5)
EMAIL_TIMEOUT = 30  # seconds, unless settings.EMAIL_TIMEOUT says otherwise


class PushNotDelivered(Exception):
    """The push service did not accept the notification (Apprise said no)."""


class PushURLUnusable(Exception):
    """The stored channel URL no longer opens or parses."""


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return min(BACKOFF_FIRST * 2 ** (attempts - 1), BACKOFF_MAX)


def _send_email(payload: dict) -> None:
    connection = get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", None) or EMAIL_TIMEOUT)
    EmailMessage(
        payload["subject"],
        payload["body"],
        settings.DEFAULT_FROM_EMAIL,
        [payload["to"]],
        connection=connection,
        headers=payload.get("headers") or None,
        reply_to=[payload["reply_to"]] if payload.get("reply_to") else None,
    ).send()


def _send_push(message: OutboxMessage, payload: dict) -> None:
    """Send through Apprise with every name lookup checked (ombud.notify.hosts):
    a host that now resolves to an address a push may not reach fails the
    delivery like any other failure."""
    try:
        url = push_url_open(message.channel)  # type: ignore[arg-type]  # None: caught below
    except Exception:
        raise PushURLUnusable from None
    if push_scheme(url) not in PUSH_SERVICES:  # a channel saved before the allow-list
        raise PushURLUnusable
    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise PushURLUnusable
    with public_lookups_only():
        delivered = notifier.notify(
            title=payload["title"],
            body=payload["body"],
            notify_type=apprise.NotifyType.WARNING
            if payload.get("urgent")
            else apprise.NotifyType.INFO,
        )
    if not delivered:
        raise PushNotDelivered


def _failed(message: OutboxMessage, error: Exception) -> str:
    message.attempts += 1
    message.last_error = type(error).__name__[:200]
    message.claimed_until = None
    with transaction.atomic():
        if message.attempts < MAX_ATTEMPTS:
            message.next_attempt_at = timezone.now() + backoff(message.attempts)
            outbox_deliver.using(run_after=message.next_attempt_at).enqueue(message_id=message.pk)
            outcome = "retry"
        else:
            message.next_attempt_at = None
            outcome = "gave up"
        message.save(update_fields=["attempts", "last_error", "claimed_until", "next_attempt_at"])
    logger.warning(
        "outbox %s %s not delivered: %s (attempt %s, %s)",
        message.kind,
        message.pk,
        message.last_error,
        message.attempts,
        outcome,
    )
    return outcome


@task()
def outbox_deliver(message_id: int) -> str:
    now = timezone.now()
    claimed = (
        OutboxMessage.objects.filter(pk=message_id, next_attempt_at__isnull=False)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + LEASE)
    )
    if not claimed:
        # Delivered (and deleted) by an earlier run, given up, or being sent now.
        return "skipped"
    message = OutboxMessage.objects.select_related("case", "channel").get(pk=message_id)
    if not still_entitled(message):
        message.delete()
        return "dropped"
    try:
        payload = outbox_open(message)
        if message.kind == OutboxMessage.Kind.PUSH:
            _send_push(message, payload)
        else:
            _send_email(payload)
    except Exception as e:  # any failure is counted and retried the same way
        return _failed(message, e)
    message.delete()
    return "sent"
