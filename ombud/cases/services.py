"""Every write to a case. Each function checks permission, runs in one
transaction, writes its audit event and schedules side effects on commit."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from ombud.accounts.models import Membership
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.clocks import clocks_start
from ombud.cases.models import (
    Case,
    Channel,
    ConsentRecord,
    Exclusion,
    Grant,
    Message,
    PublicStatementConsent,
    Submission,
)
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.notify.services import outbox_email
from ombud.orgs.models import Organisation

MESSAGE_MAX = 20_000


def contact_email(contact: str) -> str | None:
    """The reporter's contact if it is an email address we can write to."""
    contact = (contact or "").strip()
    try:
        validate_email(contact)
    except ValidationError:
        return None
    return contact


def case_submit(
    *,
    event,
    content: dict,
    urgent: bool = False,
    excluded_user_ids=(),
    channel: str = Channel.WEB,
) -> tuple[Case, str]:
    """File a report: a new case whose key is sealed for every eligible
    responder, the recovery key and the receipt. Returns the case and the
    receipt, which is shown once and never stored.

    Excluded responders get no grant at all, only an Exclusion row, so the case
    never exists for them."""
    if not event.accepts_reports:
        raise ServiceError("This event does not take reports any more.")
    if not str(content.get("description", "")).strip():
        raise ServiceError("A description is required.")
    organisation = event.organisation
    excluded = {int(pk) for pk in excluded_user_ids}
    data_key = crypto.data_key_new()
    receipt = crypto.receipt_new()
    receipt_salt = secrets.token_bytes(16)
    email = contact_email(content.get("reporter_contact", ""))

    with transaction.atomic():
        # Lock the organisation so case numbers are allocated one at a time.
        Organisation.objects.select_for_update().filter(pk=organisation.pk).first()
        last = Case.objects.filter(organisation=organisation).aggregate(n=Max("number"))["n"]
        case = Case(
            organisation=organisation,
            event=event,
            number=(last or 0) + 1,
            urgent=urgent,
            channel=channel,
            reporter_contact_available=bool(str(content.get("reporter_contact", "")).strip()),
            recovery_wrap=crypto.data_key_seal(organisation.recovery_public_key, data_key),
            receipt_lookup=crypto.receipt_lookup(receipt),
            receipt_salt=receipt_salt,
            receipt_wrap=crypto.secretbox_seal(
                crypto.receipt_wrap_key(receipt, receipt_salt), data_key
            ),
            followup_due_at=timezone.now() + timedelta(days=organisation.followup_days),
            meeting_due_at=None
            if urgent
            else timezone.now() + timedelta(hours=organisation.meeting_hours),
            retaliation_concern=bool(str(content.get("safety_concerns", "")).strip()),
        )
        if urgent and organisation.page_shows_location and content.get("location"):
            case.page_location_box = crypto.secretbox_seal(
                crypto.pepper_key("page-location"), str(content["location"]).encode()
            )
        if email:
            case.reporter_email_salt = secrets.token_bytes(16)
            case.reporter_email_lookup = crypto.email_lookup(email)
            case.reporter_email_wrap = crypto.secretbox_seal(
                crypto.email_wrap_key(email, case.reporter_email_salt), data_key
            )
        case.save(force_insert=True)
        ConsentRecord.objects.create(
            case=case,
            may_contact=bool(content.get("consent_contact")),
            public_statement=content.get("consent_public") or PublicStatementConsent.NO,
        )
        submission = Submission(case=case, kind=Submission.Kind.REPORT)
        submission.content = crypto.json_encrypt(
            data_key, content, case_id=case.pk, field=submission.content_field
        )
        submission.save(force_insert=True)

        team = Membership.objects.filter(
            organisation=organisation, user__public_key__isnull=False, user__is_active=True
        ).select_related("user")
        grants, exclusions = [], []
        for membership in team:
            user = membership.user
            if user.pk in excluded:
                exclusions.append(Exclusion(case=case, user=user, reason=Exclusion.Reason.EXCLUDED))
            else:
                grants.append(
                    Grant(
                        case=case,
                        user=user,
                        wrapped_key=crypto.data_key_seal(user.public_key, data_key),
                    )
                )
        if not grants:
            raise ServiceError("Leave at least one responder who can read the report.")
        Grant.objects.bulk_create(grants)
        Exclusion.objects.bulk_create(exclusions)
        audit_log(
            organisation=organisation,
            type=AuditType.CASE_SUBMITTED,
            case=case,
            data={
                "channel": channel,
                "urgent": urgent,
                "excluded": sorted(e.user_id for e in exclusions),
            },
        )
        clocks_start(case=case)
    return case, receipt


def case_data_key(*, actor, case, private_key: bytes) -> bytes:
    """Open the case key with the actor's grant. PermissionDenied without one."""
    if not actor.has_perm("cases.view_case", case):
        raise PermissionDenied
    grant = Grant.objects.filter(case=case, user=actor).first()
    if grant is None:
        raise PermissionDenied
    return crypto.data_key_unseal(private_key, grant.wrapped_key)


@dataclass
class CaseContent:
    submissions: list[tuple[Submission, dict]]
    messages: list[tuple[Message, str]]

    @property
    def report(self) -> dict:
        return self.submissions[0][1] if self.submissions else {}


def case_content_decrypt(*, case, data_key: bytes) -> CaseContent:
    """Everything the reporter and the team wrote on a case, decrypted."""
    return CaseContent(
        submissions=[
            (s, crypto.json_decrypt(data_key, s.content, case_id=case.pk, field=s.content_field))
            for s in case.submissions.all()
        ],
        messages=[
            (
                m,
                crypto.field_decrypt(
                    data_key, m.body, case_id=case.pk, field=m.body_field
                ).decode(),
            )
            for m in case.messages.select_related("author")
        ],
    )


def case_content_read(*, actor, case, private_key: bytes) -> CaseContent:
    """Decrypt a case for a responder. Every read is an audit event."""
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    content = case_content_decrypt(case=case, data_key=data_key)
    with transaction.atomic():
        audit_log(
            organisation=case.organisation, type=AuditType.CASE_CONTENT_READ, actor=actor, case=case
        )
    return content


def message_validate(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ServiceError("The message is empty.")
    if len(body) > MESSAGE_MAX:
        raise ServiceError(f"The message is too long: at most {MESSAGE_MAX:,} characters.")
    return body


def message_create(
    *, case, data_key: bytes, direction: str, body: str, author=None, is_followup=False
) -> Message:
    message = Message(case=case, direction=direction, author=author, is_followup=is_followup)
    message.body = crypto.field_encrypt(
        data_key, body.encode(), case_id=case.pk, field=message.body_field
    )
    message.save(force_insert=True)
    return message


def message_to_reporter(
    *, actor, case, private_key: bytes, body: str, is_followup: bool = False
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
    url = settings.SITE_ROOT + reverse("portal-enter", args=[organisation.slug])
    text = (
        f"There is a new message from the {organisation.name} incident response team "
        f"about the report you made.\n\nRead it and reply with your receipt at:\n{url}\n"
    )
    if organisation.full_content_email:
        text += f"\n--- The message ---\n\n{body}\n"
    outbox_email(
        organisation=organisation,
        to=email,
        subject=f"[{organisation.name}] New message about your report",
        body=text,
    )


def case_recuse(*, actor, case) -> None:
    """Step away from a case: the grant goes at once, and the Exclusion row
    keeps anyone from silently granting it back."""
    if not actor.has_perm("cases.recuse", case):
        raise PermissionDenied
    with transaction.atomic():
        Grant.objects.filter(case=case, user=actor).delete()
        Exclusion.objects.update_or_create(
            case=case, user=actor, defaults={"reason": Exclusion.Reason.RECUSED}
        )
        audit_log(
            organisation=case.organisation, type=AuditType.CASE_RECUSED, actor=actor, case=case
        )
