from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ombud.accounts.models import User
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.models import (
    Case,
    Message,
    Status,
)
from ombud.cases.services.base import contact_email, message_validate, status_set
from ombud.cases.services.keys import case_content_decrypt, case_data_key
from ombud.cases.services.mail import case_mail_tag, mail_message_id_new
from ombud.lib import crypto
from ombud.notify.models import OutboxMessage
from ombud.notify.services import email_send, mail_header_text


def message_create(
    *,
    case: Case,
    data_key: bytes,
    direction: str,
    body: str,
    author: User | None = None,
    is_followup=False,
) -> Message:
    message = Message(case=case, direction=direction, author=author, is_followup=is_followup)
    message.body = crypto.field_encrypt(
        data_key, body.encode(), case_id=case.pk, field=message.body_field
    )
    message.save(force_insert=True)
    return message


def message_to_reporter(
    *, actor: User, case: Case, private_key: bytes, body: str, is_followup: bool = False
) -> Message:
    """A responder writes to the reporter. The reporter reads it in the portal;
    if they left an email address and allowed contact, an email tells them a
    message is waiting (with the text only if the organisation opted in)."""
    body = message_validate(body)
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    with transaction.atomic():
        message = message_create(
            case=case,
            data_key=data_key,
            direction=Message.Direction.TO_REPORTER,
            body=body,
            author=actor,
            is_followup=is_followup,
        )
        if is_followup and case.followed_up_at is None:
            case.followed_up_at = timezone.now()
            case.save(update_fields=["followed_up_at", "updated_at"])
        if is_followup and case.status == Status.DECIDED:
            status_set(case, Status.FOLLOWED_UP)
        audit_log(
            organisation=case.organisation,
            type=AuditType.MESSAGE_TO_REPORTER,
            actor=actor,
            case=case,
            data={"followup": is_followup},
        )
        _reporter_email_notify(case=case, data_key=data_key, body=body)
    return message


def _reporter_email_notify(*, case, data_key: bytes, body: str) -> None:
    consent = case.consents.first()
    if consent is None or not consent.may_contact:
        return
    report = case_content_decrypt(case=case, data_key=data_key).report
    email = contact_email(report.get("reporter_contact", ""))
    if not email:
        return
    organisation = case.organisation
    # The tag and a recorded Message-ID let the reporter answer by replying.
    tag = case_mail_tag(case=case, data_key=data_key)
    team_email = contact_email(case.event.team_email)
    url = settings.SITE_ROOT + reverse("portal-enter", args=[organisation.slug])
    email_send(
        organisation=organisation,
        to=email,
        template="reporter_new_message",
        context={
            "organisation": organisation,
            "organisation_name": mail_header_text(organisation.name),
            "tag": tag,
            "url": url,
            "team_email": team_email,
            # The text itself only if the organisation opted in.
            "full_content": body if organisation.full_content_email else "",
        },
        topic=OutboxMessage.Topic.TO_REPORTER,
        headers={"Message-ID": mail_message_id_new(case=case)},
        reply_to=team_email,
    )
