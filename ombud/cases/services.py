"""Every write to a case. Each function checks permission, runs in one
transaction, writes its audit event and schedules side effects on commit."""

import secrets

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max

from ombud.accounts.models import Membership
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.models import Case, Channel, Exclusion, Grant, Submission
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.orgs.models import Organisation


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
        )
        case.save(force_insert=True)
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
        from ombud.cases.tasks import case_notify_new

        case_id = str(case.pk)
        transaction.on_commit(lambda: case_notify_new.enqueue(case_id=case_id))
    return case, receipt


def case_data_key(*, actor, case, private_key: bytes) -> bytes:
    """Open the case key with the actor's grant. PermissionDenied without one."""
    if not actor.has_perm("cases.view_case", case):
        raise PermissionDenied
    grant = Grant.objects.filter(case=case, user=actor).first()
    if grant is None:
        raise PermissionDenied
    return crypto.data_key_unseal(private_key, grant.wrapped_key)


def case_content_read(*, actor, case, private_key: bytes) -> list[tuple[Submission, dict]]:
    """Decrypt what the reporter wrote. Every read is an audit event."""
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    submissions = [
        (s, crypto.json_decrypt(data_key, s.content, case_id=case.pk, field=s.content_field))
        for s in case.submissions.all()
    ]
    with transaction.atomic():
        audit_log(
            organisation=case.organisation, type=AuditType.CASE_CONTENT_READ, actor=actor, case=case
        )
    return submissions


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
