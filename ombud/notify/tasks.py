"""Delivery of queued mail. Tasks take ids only."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone
from django_tasks import task

from ombud.notify.models import OutboxMessage
from ombud.notify.services import outbox_open

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 12


@task()
def outbox_deliver(message_id: int) -> str:
    message = OutboxMessage.objects.filter(pk=message_id).first()
    if message is None:
        return "gone"  # delivered by an earlier run
    payload = outbox_open(message)
    try:
        send_mail(payload["subject"], payload["body"], settings.DEFAULT_FROM_EMAIL, [payload["to"]])
    except Exception as e:  # any transport failure is retried the same way
        message.attempts += 1
        # The class name only: transport errors can quote the address.
        message.last_error = type(e).__name__
        message.save(update_fields=["attempts", "last_error"])
        logger.warning("outbox message %s failed (attempt %s)", message.pk, message.attempts)
        if message.attempts < MAX_ATTEMPTS:
            delay = timedelta(seconds=min(30 * 2**message.attempts, 6 * 3600))
            outbox_deliver.using(run_after=timezone.now() + delay).enqueue(message_id=message.pk)
        return "retry"
    message.delete()
    return "sent"
