import json

from django.db import transaction

from ombud.lib import crypto
from ombud.notify.models import OutboxMessage


def _outbox_key() -> bytes:
    return crypto.pepper_key("outbox")


def outbox_email(*, organisation, to: str, subject: str, body: str) -> OutboxMessage:
    """Queue one email; it is sent by the worker after the transaction commits."""
    payload = json.dumps({"to": to, "subject": subject, "body": body}).encode()
    message = OutboxMessage.objects.create(
        organisation=organisation, payload=crypto.secretbox_seal(_outbox_key(), payload)
    )
    from ombud.notify.tasks import outbox_deliver

    transaction.on_commit(lambda: outbox_deliver.enqueue(message_id=message.pk))
    return message


def outbox_open(message: OutboxMessage) -> dict:
    return json.loads(crypto.secretbox_open(_outbox_key(), message.payload))
