"""The sealed parts of notify's rows, and who may still receive a message.
Below both the services that queue messages and the tasks that deliver them."""

import json
from collections.abc import Callable

from ombud.lib import crypto
from ombud.notify.models import OutboxMessage, PushChannel


def outbox_key() -> bytes:
    return crypto.pepper_key("outbox")


def push_url_key() -> bytes:
    return crypto.pepper_key("push-channel")


def outbox_open(message: OutboxMessage) -> dict:
    return json.loads(crypto.secretbox_open(outbox_key(), message.payload))


def push_url_open(channel: PushChannel) -> str:
    return crypto.secretbox_open(push_url_key(), channel.url_box).decode()


EntitlementCheck = Callable[[OutboxMessage], bool]
_entitlement_checks: dict[str, EntitlementCheck] = {}


def entitlement_check_register(*topics: str) -> Callable[[EntitlementCheck], EntitlementCheck]:
    """Register the check that the recipient of a message of these topics
    is still entitled to it when its turn comes (a responder who recused
    after a page was queued never gets it). The app that knows who is
    entitled registers it (ombud.cases.notices): notify does not know cases."""

    def register(check: EntitlementCheck) -> EntitlementCheck:
        for topic in topics:
            _entitlement_checks[topic] = check
        return check

    return register


def still_entitled(message: OutboxMessage) -> bool:
    check = _entitlement_checks.get(message.topic)
    return check is None or check(message)
