import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.attachments import attachments_store, case_inbox_new
from ombud.cases.clocks import clocks_start
from ombud.cases.models import (
    Case,
    Channel,
    ConsentRecord,
    Exclusion,
    Grant,
    PublicStatementConsent,
    Submission,
)
from ombud.cases.schema import ReportContent
from ombud.cases.services.base import contact_email
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.orgs.models import Event, Membership, Organisation


@dataclass(frozen=True)
class Filed:
    """A report just filed: its case, and the receipt that is shown once to
    the reporter and never stored."""

    case: Case
    receipt: str


def case_submit(
    *,
    event: Event,
    content: ReportContent,
    urgent: bool = False,
    excluded_user_ids=(),
    channel: str = Channel.WEB,
    attachments=(),
    case_hook=None,
) -> Filed:
    """File a report: a new case whose key is sealed for every eligible
    responder, the recovery key and the receipt. Returns the case and the
    receipt, which is shown once and never stored. `attachments` are checked
    uploads (ombud.cases.attachments); `case_hook(case, data_key)` runs inside
    the transaction once the case exists (email intake records its thread).

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
    receipt_public_key, _ = crypto.receipt_keypair(receipt, receipt_salt)
    email = contact_email(content.get("reporter_contact", ""))

    with transaction.atomic():
        # Lock the organisation so case numbers are allocated one at a time,
        # and read the recovery key under the lock: a key rotation swaps it
        # under the same lock (ombud.cases.services.recovery).
        organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
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
            receipt_wrap=crypto.receipt_wrap(receipt_public_key, data_key),
            # Only to find the case when the reporter asks for a new receipt.
            reporter_email_lookup=crypto.email_lookup(email) if email else None,
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
        case_inbox_new(case, data_key)
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
        attachments_store(case=case, uploads=attachments, data_key=data_key, submission=submission)

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
                        # The query keeps only members with a key pair.
                        wrapped_key=crypto.data_key_seal(user.public_key, data_key),  # type: ignore[arg-type]
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
                "attachments": len(attachments),
            },
        )
        if case_hook is not None:
            case_hook(case, data_key)
        clocks_start(case=case)
    return Filed(case=case, receipt=receipt)
