"""The outbox (DESIGN §4, §5): every email and push is a row first, its
payload sealed under a pepper-derived key, delivered by the task worker,
retried with backoff and deleted once sent.

Queueing enqueues the delivery task in the same database transaction as the
row (the task queue is the database), so a message is never stored without
its delivery, nor delivery scheduled for a message that was rolled back. Tasks
get the row id only, never an address or text."""

import json
import logging
import re

import apprise
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from ombud.lib import crypto
from ombud.notify import hosts, sealing
from ombud.notify.models import OutboxMessage, PushChannel
from ombud.notify.sealing import push_url_open
from ombud.notify.selectors import outbox_stuck
from ombud.notify.tasks import outbox_deliver

logger = logging.getLogger(__name__)

Topic = OutboxMessage.Topic

PUSH_URL_MAX = 2000


def _queue(*, kind: str, payload: dict, **fields) -> OutboxMessage:
    sealed = crypto.secretbox_seal(sealing.outbox_key(), json.dumps(payload).encode())
    with transaction.atomic():
        message = OutboxMessage.objects.create(
            kind=kind, payload=sealed, next_attempt_at=timezone.now(), **fields
        )
        outbox_deliver.enqueue(message_id=message.pk)
    return message


_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,76}")


def _header_checked(value: str) -> str:
    """A header value we set: one line, so nothing can start another header."""
    value = str(value)
    if "\r" in value or "\n" in value:
        raise ValueError("A header value must be one line.")
    return value


def outbox_email(
    *,
    organisation,
    to: str,
    subject: str,
    body: str,
    topic=Topic.OTHER,
    case=None,
    user=None,
    headers: dict | None = None,
    reply_to: str | None = None,
) -> OutboxMessage:
    """Queue one email. With `case` and `user`, it is dropped unsent if the
    user no longer holds a grant for the case when its turn comes. `headers`
    (e.g. Message-ID, In-Reply-To) and `reply_to` are sealed with the rest;
    ValueError for a header that is not one line."""
    payload: dict[str, object] = {"to": to, "subject": subject, "body": body}
    if headers:
        for name, value in headers.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError("Not a header name.")
            _header_checked(value)
        payload["headers"] = {name: str(value) for name, value in headers.items()}
    if reply_to:
        payload["reply_to"] = _header_checked(reply_to)
    return _queue(
        kind=OutboxMessage.Kind.EMAIL,
        payload=payload,
        organisation=organisation,
        topic=topic,
        case=case,
        user=user,
    )


def mail_header_text(value: str) -> str:
    """Our own text for a mail header, on one line whatever it holds."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(value)).split())


def email_render(template: str, context: dict) -> tuple[str, str]:
    """The subject (one line) and body of `templates/email/<template>`
    (`.subject.txt` and `.txt`), rendered as plain text: nothing is
    HTML-escaped, and the subject cannot start another header."""
    subject = render_to_string(f"{template}.subject.txt", context, using="email")
    body = render_to_string(f"{template}.txt", context, using="email")
    return mail_header_text(subject), body


def email_send(*, to: str, template: str, context: dict, organisation=None, **fields):
    """Queue one email made from a template (`email_render`); `fields` as for
    `outbox_email` (topic, case, user, headers, reply_to)."""
    subject, body = email_render(template, context)
    return outbox_email(organisation=organisation, to=to, subject=subject, body=body, **fields)


def outbox_push(
    *, organisation, channel: PushChannel, title: str, body: str, topic=Topic.OTHER, case=None
) -> OutboxMessage:
    """Queue one push to a responder's channel (its URL stays in the channel row)."""
    return _queue(
        kind=OutboxMessage.Kind.PUSH,
        payload={"title": title, "body": body, "urgent": topic in (Topic.PAGE, Topic.ESCALATION)},
        organisation=organisation,
        topic=topic,
        case=case,
        user_id=channel.user_id,
        channel=channel,
    )


def notify_user(
    *,
    organisation,
    user,
    subject: str,
    body: str,
    topic,
    case=None,
    push_title: str | None = None,
    push_body: str | None = None,
) -> list[OutboxMessage]:
    """Email a responder and, when `push_title` is given, push to each of the
    channels they configured. Pass `user.push_channels` prefetched to keep
    the queries per recipient constant."""
    messages = [
        outbox_email(
            organisation=organisation,
            to=user.email,
            subject=subject,
            body=body,
            topic=topic,
            case=case,
            user=user,
        )
    ]
    if push_title is not None:
        for channel in user.push_channels.all():
            messages.append(
                outbox_push(
                    organisation=organisation,
                    channel=channel,
                    title=push_title,
                    body=push_body if push_body is not None else body,
                    topic=topic,
                    case=case,
                )
            )
    return messages


def outbox_retry_failed(*, actor, organisation) -> int:
    """Try again now: messages that ran out of attempts get a fresh set, and
    messages whose delivery is long overdue (a worker that died mid-send, or
    none running) are queued again. A second delivery task for a message is
    harmless: it finds the row claimed or gone."""

    if not actor.has_perm("notify.view_outbox", organisation):
        raise PermissionDenied
    now = timezone.now()
    with transaction.atomic():
        ids = list(outbox_stuck(organisation=organisation, now=now).values_list("pk", flat=True))
        OutboxMessage.objects.filter(pk__in=ids, next_attempt_at__isnull=True).update(attempts=0)
        OutboxMessage.objects.filter(pk__in=ids).update(next_attempt_at=now, claimed_until=None)
        for pk in ids:
            outbox_deliver.enqueue(message_id=pk)
    return len(ids)


# --- push channels -------------------------------------------------------------


def push_url_validate(url: str) -> str:
    """The URL if Apprise can send to it, it is a push service Ombud sends to
    and its server is at a public address (ombud.notify.hosts), else
    ValidationError. The message never quotes the URL (it can carry a token)
    nor says what its host resolved to."""
    url = (url or "").strip()
    if not url or len(url) > PUSH_URL_MAX:
        raise ValidationError(
            "Enter an Apprise URL of at most %(max)s characters.", params={"max": PUSH_URL_MAX}
        )
    scheme = hosts.push_scheme(url)
    if scheme not in hosts.PUSH_SERVICES:
        raise ValidationError(
            "Ombud pushes only to these services: %(services)s (URLs starting with %(schemes)s).",
            params={
                "services": ", ".join(dict.fromkeys(sorted(hosts.PUSH_SERVICES.values()))),
                "schemes": ", ".join(f"{s}://" for s in sorted(hosts.PUSH_SERVICES)),
            },
        )
    service = apprise.Apprise.instantiate(url)
    if service is None:
        raise ValidationError(
            "Apprise cannot read this URL. Check it against the Apprise documentation, "
            "e.g. ntfys://ntfy.sh/your-topic."
        )
    host = getattr(service, "host", None)
    if (
        scheme in hosts.PUSH_SERVICES_OWN_SERVER
        and host
        and getattr(service, "mode", "") != "t2bot"
    ):
        try:
            hosts.host_check(host)
        except hosts.PushHostRefused:
            raise ValidationError(
                "Ombud cannot push to this server: its name must resolve to a public internet "
                "address. (A self-hosted server on a private network needs the operator to set "
                "OMBUD_PUSH_ALLOW_PRIVATE.)"
            ) from None
    return url


def push_service_name(channel: PushChannel) -> str:
    """What kind of service a channel is (ntfy, Telegram, ...), for display."""
    try:
        service = apprise.Apprise.instantiate(push_url_open(channel))
    except crypto.DecryptionError:
        service = None
    return str(getattr(service, "service_name", "") or "unknown service")


def push_channel_add(*, user, label: str, url: str) -> PushChannel:
    url = push_url_validate(url)
    return PushChannel.objects.create(
        user=user,
        label=label.strip()[:100],
        url_box=crypto.secretbox_seal(sealing.push_url_key(), url.encode()),
    )


def push_channel_remove(*, user, channel: PushChannel) -> None:
    if channel.user_id != user.pk:
        raise PermissionDenied
    channel.delete()  # what is still queued for it goes too


def push_channel_test(*, user, channel: PushChannel) -> OutboxMessage:
    """Queue a test push through the outbox, like a real page."""
    if channel.user_id != user.pk:
        raise PermissionDenied
    return outbox_push(
        organisation=None,
        channel=channel,
        title="Ombud test push",
        body=f"This is a test of your channel “{channel.label}”. "
        "Pages for ongoing incidents will arrive like this.",
        topic=Topic.TEST,
    )
