"""The reporter's side: open a case with the receipt, talk to the team,
change consent, get a new receipt by email (it works once the team next
opens the case: ombud.cases.services.receipts). The reporter has no account: the
receipt (or a portal session opened with it) is the only authority, and it
opens exactly one case."""

import base64
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.models import Case, ConsentRecord, Message, Submission
from ombud.cases.services.base import message_validate
from ombud.cases.services.keys import case_content_decrypt
from ombud.cases.services.messages import message_create
from ombud.cases.services.receipts import receipt_pending_issue
from ombud.cases.signals import receipt_replaced
from ombud.cases.tasks import case_notify_reporter_wrote
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.notify.models import OutboxMessage
from ombud.notify.services import email_send
from ombud.orgs.models import Organisation
from ombud.portal.models import PortalSession, ReceiptRenewal

PORTAL_IDLE = timedelta(minutes=30)
RENEWAL_VALID = timedelta(minutes=30)
RECEIPT_MAX_LENGTH = 200

# Opened when no case matches, so a miss costs the same work as a hit.
_DUMMY_SALT = secrets.token_bytes(16)
_DUMMY_WRAP = crypto.receipt_wrap(crypto.keypair_new()[0], secrets.token_bytes(32))


@dataclass(frozen=True)
class ReceiptOpened:
    """What a receipt opens before the case is loaded: its id and key."""

    case_id: uuid.UUID
    data_key: bytes


@dataclass(frozen=True)
class ReceiptWaiting:
    """A new receipt that does not work yet: it works once someone who holds
    the case opens it (ombud.cases.services.receipts)."""


@dataclass(frozen=True)
class Unlocked:
    """A case the reporter opened, with its key (for this request only)."""

    case: Case
    data_key: bytes


def receipt_open(
    *, organisation: Organisation, receipt: str
) -> ReceiptOpened | ReceiptWaiting | None:
    """The case id and case key for a receipt, ReceiptWaiting for a new one
    that does not work yet, or None. This lookup and key derivation do the
    same work whether or not the receipt exists: only the small columns the
    unlock needs are read, and a miss opens a dummy."""
    receipt = receipt[:RECEIPT_MAX_LENGTH]
    lookup = crypto.receipt_lookup(receipt)
    row = (
        Case.objects.filter(organisation=organisation)
        .filter(Q(receipt_lookup=lookup) | Q(receipt_pending_lookup=lookup))
        .values_list("pk", "receipt_lookup", "receipt_salt", "receipt_wrap")
        .first()
    )
    case_id, current, salt, wrap = row or (None, None, _DUMMY_SALT, _DUMMY_WRAP)
    if case_id is not None and bytes(current or b"") != lookup:
        return ReceiptWaiting()
    try:
        data_key = crypto.receipt_unwrap(receipt, salt or b"", wrap or b"")
    except crypto.DecryptionError:
        return None
    return ReceiptOpened(case_id, data_key) if case_id is not None else None


def receipt_unlock(*, organisation: Organisation, receipt: str) -> Unlocked | ReceiptWaiting | None:
    """The case and its key for a receipt, ReceiptWaiting or None. The case
    is loaded only once the receipt has proven itself."""
    opened = receipt_open(organisation=organisation, receipt=receipt)
    if not isinstance(opened, ReceiptOpened):
        return opened
    case = Case.objects.select_related("organisation", "event").get(pk=opened.case_id)
    return Unlocked(case, opened.data_key)


def _bearer_new(purpose: str, data_key: bytes) -> tuple[bytes, dict]:
    """A random bearer secret, and the fields that store it: its keyed hash
    and the case key sealed under a key derived from it."""
    secret = secrets.token_bytes(32)
    sealed = crypto.secretbox_seal(crypto.token_wrap_key(purpose, secret), data_key)
    return secret, {"sealed_key": sealed, "secret_hash": crypto.token_hash(purpose, secret)}


def _bearer_decode(value: str | None) -> bytes | None:
    try:
        return base64.urlsafe_b64decode((value or "").encode()) or None
    except ValueError:
        return None


def _bearer_encode(secret: bytes) -> str:
    return base64.urlsafe_b64encode(secret).decode()


def portal_session_open(*, case: Case, data_key: bytes) -> str:
    """Start a reporter's visit; returns the cookie value (shown to no one)."""
    secret, stored = _bearer_new("portal-session", data_key)
    with transaction.atomic():
        PortalSession.objects.create(case=case, last_seen_at=timezone.now(), **stored)
        audit_log(organisation=case.organisation, type=AuditType.PORTAL_OPENED, case=case)
    return _bearer_encode(secret)


def portal_session_resume(*, organisation: Organisation, cookie: str | None) -> Unlocked | None:
    """The case and key of a live portal session of this organisation, or None.
    Idle sessions expire; every use extends the idle window."""
    secret = _bearer_decode(cookie)
    if secret is None:
        return None
    session = (
        PortalSession.objects.filter(
            secret_hash=crypto.token_hash("portal-session", secret),
            case__organisation=organisation,
        )
        .select_related("case", "case__organisation", "case__event")
        .first()
    )
    if session is None:
        return None
    now = timezone.now()
    if session.last_seen_at < now - PORTAL_IDLE:
        session.delete()
        return None
    try:
        data_key = crypto.secretbox_open(
            crypto.token_wrap_key("portal-session", secret), session.sealed_key
        )
    except crypto.DecryptionError:
        return None
    PortalSession.objects.filter(pk=session.pk).update(last_seen_at=now)
    return Unlocked(session.case, data_key)


def portal_session_close(*, cookie: str | None) -> None:
    secret = _bearer_decode(cookie)
    if secret is None:
        return
    PortalSession.objects.filter(secret_hash=crypto.token_hash("portal-session", secret)).delete()


def portal_content_read(*, case: Case, data_key: bytes):
    """The reporter reads their own case; audited like any read."""

    content = case_content_decrypt(case=case, data_key=data_key)
    with transaction.atomic():
        audit_log(
            organisation=case.organisation,
            type=AuditType.CASE_CONTENT_READ,
            case=case,
            data={"via": "receipt"},
        )
    return content


def message_from_reporter(*, case: Case, data_key: bytes, body: str) -> Message:
    body = message_validate(body)
    with transaction.atomic():
        message = message_create(
            case=case, data_key=data_key, direction=Message.Direction.FROM_REPORTER, body=body
        )
        audit_log(organisation=case.organisation, type=AuditType.MESSAGE_FROM_REPORTER, case=case)
        _notify_team_on_commit(case)
    return message


def submission_add(*, case: Case, data_key: bytes, text: str) -> Submission:
    """More information for the report, stored like the report itself."""
    text = message_validate(text)
    with transaction.atomic():
        submission = Submission(case=case, kind=Submission.Kind.ADDITION)
        submission.content = crypto.json_encrypt(
            data_key, {"description": text}, case_id=case.pk, field=submission.content_field
        )
        submission.save(force_insert=True)
        audit_log(organisation=case.organisation, type=AuditType.SUBMISSION_ADDED, case=case)
        _notify_team_on_commit(case)
    return submission


def _notify_team_on_commit(case) -> None:
    case_id = str(case.pk)
    transaction.on_commit(lambda: case_notify_reporter_wrote.enqueue(case_id=case_id))


def consent_change(*, case: Case, may_contact: bool, public_statement: str) -> ConsentRecord:
    with transaction.atomic():
        record = ConsentRecord(
            case=case, may_contact=may_contact, public_statement=public_statement
        )
        record.full_clean(exclude=["case"])
        record.save()
        audit_log(
            organisation=case.organisation,
            type=AuditType.CONSENT_CHANGED,
            case=case,
            data={"may_contact": may_contact, "public_statement": public_statement},
        )
    return record


def receipt_renewal_request(*, organisation: Organisation, email: str) -> None:
    """Email a one-time link for a new receipt for every case of this
    organisation reported from this address (found by its keyed hash; nothing
    derived from the address opens anything). Says nothing to the caller
    about whether there were any."""
    cases = Case.objects.filter(
        organisation=organisation, reporter_email_lookup=crypto.email_lookup(email)
    )
    for case in cases:
        token = secrets.token_bytes(32)
        with transaction.atomic():
            ReceiptRenewal.objects.create(
                case=case,
                secret_hash=crypto.token_hash("receipt-renewal", token),
                expires_at=timezone.now() + RENEWAL_VALID,
            )
            audit_log(
                organisation=organisation, type=AuditType.RECEIPT_RENEWAL_REQUESTED, case=case
            )
            url = settings.SITE_ROOT + reverse(
                "portal-renew", args=[organisation.slug, _bearer_encode(token)]
            )
            email_send(
                organisation=organisation,
                to=email,
                template="receipt_renewal",
                context={"organisation": organisation, "url": url},
                topic=OutboxMessage.Topic.TO_REPORTER,
            )


def receipt_renewal_valid(*, organisation: Organisation, token: str | None) -> bool:
    return _renewal_get(organisation=organisation, token=token) is not None


def _renewal_get(*, organisation, token: str | None) -> ReceiptRenewal | None:
    raw = _bearer_decode(token)
    if raw is None:
        return None
    return (
        ReceiptRenewal.objects.filter(
            secret_hash=crypto.token_hash("receipt-renewal", raw),
            case__organisation=organisation,
            expires_at__gte=timezone.now(),
        )
        .select_related("case", "case__organisation")
        .first()
    )


RENEWAL_GONE = "This link has expired or was already used. Ask for a new one."


def receipt_renew(*, organisation: Organisation, token: str | None) -> str:
    """Show a new receipt for the link's case. It works once someone who holds
    the case opens it; until then the old one works (ombud.cases.services.
    receipts). The link works once."""
    with transaction.atomic():
        renewal = _renewal_get(organisation=organisation, token=token)
        if renewal is None or not ReceiptRenewal.objects.filter(case=renewal.case).delete()[0]:
            raise ServiceError(RENEWAL_GONE)
        case = renewal.case
        receipt = receipt_pending_issue(case=case)
        audit_log(organisation=organisation, type=AuditType.RECEIPT_RENEWED, case=case)
    return receipt


@receiver(receipt_replaced)
def _visits_end(sender, case, **kwargs):
    """Visits opened with a receipt end when a new receipt replaces it."""
    PortalSession.objects.filter(case=case).delete()
