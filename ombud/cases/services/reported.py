from django.db import transaction
from django.utils import timezone

from ombud.accounts.models import User
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.models import (
    Case,
    ReportedPersonMessage,
)
from ombud.cases.schema import ReportContent
from ombud.cases.services.base import message_validate
from ombud.cases.services.keys import case_content_decrypt, case_data_key
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.notify.services import email_send


def identifying_strings(report: ReportContent) -> list[tuple[str, str]]:
    """What in a draft could reveal who reported: (what it is, the string)."""
    found = []
    name = str(report.get("reporter_name", "")).strip()
    if name:
        found.append(("the reporter's name", name))
        found += [("part of the reporter's name", part) for part in name.split() if len(part) >= 4]
    contact = str(report.get("reporter_contact", "")).strip()
    if contact:
        found.append(("the reporter's contact details", contact))
    return found


def reported_message_draft(
    *, actor: User, case: Case, private_key: bytes, to: str, body: str, identifying_ok: bool = False
) -> ReportedPersonMessage:
    """Write to the reported person. The draft is checked for strings that
    identify the reporter (refused unless the responder confirms). With a
    retaliation or safety concern it waits for a second responder; otherwise it
    is sent at once."""
    body = message_validate(body)
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    report = case_content_decrypt(case=case, data_key=data_key).report
    lowered = body.lower()
    hits = sorted({what for what, text in identifying_strings(report) if text.lower() in lowered})
    if hits and not identifying_ok:
        raise ServiceError(
            "The message contains " + " and ".join(hits) + ". Remove it, or confirm that "
            "the reporter agreed to be named."
        )
    with transaction.atomic():
        message = ReportedPersonMessage(case=case, author=actor)
        message.content = crypto.json_encrypt(
            data_key, {"to": to, "body": body}, case_id=case.pk, field=message.content_field
        )
        message.save(force_insert=True)
        audit_log(
            organisation=case.organisation,
            type=AuditType.REPORTED_MESSAGE_DRAFTED,
            actor=actor,
            case=case,
            data={"needs_approval": case.retaliation_concern, "identifying": bool(hits)},
        )
        if not case.retaliation_concern:
            _reported_message_send(message=message, data_key=data_key, actor=actor)
    return message


def reported_message_approve(*, actor: User, message, private_key: bytes) -> ReportedPersonMessage:
    case = message.case
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    if message.sent_at is not None:
        raise ServiceError("This message was sent already.")
    if message.author_id == actor.pk:
        raise ServiceError("A second responder must approve it; you wrote this message.")
    with transaction.atomic():
        message.approved_by = actor
        message.save(update_fields=["approved_by"])
        _reported_message_send(message=message, data_key=data_key, actor=actor)
    return message


def _reported_message_send(*, message, data_key: bytes, actor) -> None:
    case = message.case
    content = crypto.json_decrypt(
        data_key, message.content, case_id=case.pk, field=message.content_field
    )
    email_send(
        organisation=case.organisation,
        to=content["to"],
        template="reported_person_message",
        context={"organisation": case.organisation, "body": content["body"]},
    )
    message.sent_at = timezone.now()
    message.save(update_fields=["sent_at"])
    audit_log(
        organisation=case.organisation,
        type=AuditType.REPORTED_MESSAGE_SENT,
        actor=actor,
        case=case,
    )
