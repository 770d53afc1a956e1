"""A new receipt for a reporter who lost theirs (issue 12, item 5).

No case key is wrapped under anything derived from the reporter's address:
a copy of the database, with the pepper and a list of likely addresses,
opens nothing. Instead the reporter is shown a new receipt at once (the
emailed link proves the mailbox), and only its lookup, salt and public key
are stored as pending on the case (`receipt_pending_issue`). It works once
someone who holds the case opens it: their signed-in session has the case
key and seals it to that public key (`receipts_pending_seal`, run by the
dashboard and the case page). The server alone can never make it work.

The old receipt keeps working until that moment and stops then, with the
reporter's visits opened with it: asking for a new receipt never leaves a
reporter who still has the old one without access, and whoever else asks (with
access to the mailbox) cannot lock them out. Asking again replaces the
waiting receipt: only the newest one shown will work."""

import secrets

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from ombud.accounts.models import User
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.models import Case, Grant, Submission
from ombud.cases.services.base import contact_email
from ombud.cases.signals import receipt_replaced
from ombud.lib import crypto
from ombud.notify.models import OutboxMessage
from ombud.notify.services import email_send
from ombud.orgs.models import Organisation


def receipt_pending_issue(*, case: Case) -> str:
    """A new receipt for the case, waiting to work (see the module): returns
    it, to be shown once; only its lookup, salt and public key are stored.
    The caller checks the reporter's right to it and audits it."""
    receipt = crypto.receipt_new()
    salt = secrets.token_bytes(16)
    case.receipt_pending_lookup = crypto.receipt_lookup(receipt)
    case.receipt_pending_salt = salt
    case.receipt_pending_public_key, _ = crypto.receipt_keypair(receipt, salt)
    case.save(
        update_fields=[
            "receipt_pending_lookup",
            "receipt_pending_salt",
            "receipt_pending_public_key",
            "updated_at",
        ]
    )
    return receipt


@sensitive_variables("private_key", "data_key")
def receipts_pending_seal(*, actor: User, organisation: Organisation, private_key: bytes) -> int:
    """Make the waiting new receipts of the cases `actor` holds work: seal
    each case key to its receipt's public key, which then replaces the old
    receipt. Returns how many. Each case in its own transaction, audited; a
    grant the actor's key no longer opens is left for someone else."""
    grants = Grant.objects.filter(
        user=actor,
        case__organisation=organisation,
        case__receipt_pending_public_key__isnull=False,
    ).select_related("case", "case__organisation", "case__event")
    done = 0
    for grant in grants:
        case = grant.case
        if not actor.has_perm("cases.view_case", case):
            continue
        try:
            data_key = crypto.data_key_unseal(private_key, grant.wrapped_key)
        except crypto.DecryptionError:
            continue
        with transaction.atomic():
            # Only the receipt read above: a newer one asked for meanwhile waits.
            swapped = Case.objects.filter(
                pk=case.pk, receipt_pending_lookup=case.receipt_pending_lookup
            ).update(
                receipt_lookup=case.receipt_pending_lookup,
                receipt_salt=case.receipt_pending_salt,
                receipt_wrap=crypto.receipt_wrap(case.receipt_pending_public_key, data_key),  # type: ignore[arg-type]  # the query keeps only cases with one
                receipt_pending_lookup=None,
                receipt_pending_salt=None,
                receipt_pending_public_key=None,
            )
            if not swapped:
                continue
            audit_log(
                organisation=organisation,
                type=AuditType.RECEIPT_RENEWAL_COMPLETED,
                actor=actor,
                case=case,
            )
            receipt_replaced.send(sender=Case, case=case)
            _reporter_told(case=case, data_key=data_key)
        done += 1
    return done


def _reporter_told(*, case: Case, data_key: bytes) -> None:
    """Mail the reporter, who asked by mail, that the new receipt works now
    (never the receipt itself)."""
    report = case.submissions.filter(kind=Submission.Kind.REPORT).first()
    if report is None:
        return
    content = crypto.json_decrypt(
        data_key, report.content, case_id=case.pk, field=report.content_field
    )
    email = contact_email(content.get("reporter_contact", ""))
    if not email:
        return
    organisation = case.organisation
    email_send(
        organisation=organisation,
        to=email,
        template="receipt_renewed",
        context={
            "organisation": organisation,
            "url": settings.SITE_ROOT + reverse("portal-enter", args=[organisation.slug]),
        },
        topic=OutboxMessage.Topic.TO_REPORTER,
    )
