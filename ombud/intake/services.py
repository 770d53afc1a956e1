"""Staff intake (DESIGN §8): a responder takes a report in person, saving it
in parts as drafts sealed to their own key, then files it as a case. Each
function checks permission, runs in one transaction and is audited; the
audit events hold no content."""

import json
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from ombud.accounts.models import User
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.models import Case, Channel
from ombud.cases.schema import ReportContent
from ombud.cases.services.submit import Filed, case_submit
from ombud.cases.services.workflow import case_flags_update
from ombud.intake.models import FormToken, IntakeDraft
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.orgs.models import Event, Organisation

DRAFT_GONE = "This draft was sent or deleted in the meantime (perhaps in another tab)."
SELF_EXCLUDED = (
    "You are taking this report, so you cannot be excluded from it. If you have a "
    "conflict of interest, ask another responder to take the report."
)


def _require(actor, organisation, *, event=None, draft=None) -> None:
    if not actor.has_perm("intake.take_report", organisation):
        raise PermissionDenied
    if event is not None and event.organisation_id != organisation.pk:
        raise PermissionDenied
    if draft is not None and (
        draft.author_id != actor.pk or draft.organisation_id != organisation.pk
    ):
        raise PermissionDenied


def intake_draft_save(
    *,
    actor: User,
    organisation: Organisation,
    event: Event,
    fields: dict,
    draft: IntakeDraft | None = None,
) -> IntakeDraft:
    """Save what has been written so far, sealed to the author's public key:
    only the author, logged in, can open it again."""
    _require(actor, organisation, event=event, draft=draft)
    # A sealed box, as a case key is wrapped for a person (DESIGN §5).
    box = crypto.data_key_seal(actor.public_key, json.dumps(fields).encode())  # type: ignore[arg-type]  # _require: a key pair
    with transaction.atomic():
        if draft is None:
            draft = IntakeDraft.objects.create(
                organisation=organisation, event=event, author=actor, box=box
            )
        elif not IntakeDraft.objects.filter(pk=draft.pk, author=actor).update(
            event=event, box=box, updated_at=timezone.now()
        ):
            raise ServiceError(DRAFT_GONE)
        audit_log(
            organisation=organisation,
            type=AuditType.INTAKE_DRAFT_SAVED,
            actor=actor,
            data={"draft": str(draft.pk)},
        )
    return draft


def intake_draft_open(*, actor: User, draft: IntakeDraft, private_key: bytes) -> dict:
    """The fields of one's own draft. Not audited: nobody but its author can
    ever open it. DecryptionError when it was sealed to an earlier key pair
    (before a password reset)."""
    if draft.author_id != actor.pk:
        raise PermissionDenied
    return json.loads(crypto.data_key_unseal(private_key, draft.box))


def intake_draft_delete(*, actor: User, organisation: Organisation, draft: IntakeDraft) -> None:
    _require(actor, organisation, draft=draft)
    with transaction.atomic():
        if not IntakeDraft.objects.filter(pk=draft.pk, author=actor).delete()[0]:
            raise ServiceError(DRAFT_GONE)
        audit_log(
            organisation=organisation,
            type=AuditType.INTAKE_DRAFT_DELETED,
            actor=actor,
            data={"draft": str(draft.pk)},
        )


@dataclass(frozen=True)
class AlreadySent:
    """The same form was sent before: no new case, and the receipt is not
    shown again. `case` is the one it made (None once that case is gone)."""

    case: Case | None


def sent_once(form_token: str, file: Callable[[], Filed]) -> Filed | AlreadySent:
    """Run `file` unless a form with this token was sent before. The token's
    keyed hash is claimed in the same transaction as the case it makes, so of
    two posts at once one files and the other waits, then finds it sent. A
    form without a token (not from our page) is not checked."""
    if not form_token:
        return file()
    lookup = crypto.token_hash("form-token", form_token.encode("utf-8", "surrogatepass"))
    with transaction.atomic():
        try:
            with transaction.atomic():
                claimed = FormToken.objects.create(lookup=lookup)
        except IntegrityError:
            earlier = FormToken.objects.filter(lookup=lookup).select_related("case").first()
            return AlreadySent(case=earlier.case if earlier else None)
        filed = file()
        claimed.case = filed.case
        claimed.save(update_fields=["case"])
    return filed


def report_submit(
    *,
    event: Event,
    content: ReportContent,
    urgent: bool = False,
    excluded_user_ids=(),
    attachments=(),
    form_token: str = "",
) -> Filed | AlreadySent:
    """The public report form: `case_submit`, once per form."""
    return sent_once(
        form_token,
        lambda: case_submit(
            event=event,
            content=content,
            urgent=urgent,
            excluded_user_ids=excluded_user_ids,
            attachments=attachments,
        ),
    )


def intake_submit(
    *,
    actor: User,
    organisation: Organisation,
    event: Event,
    content: ReportContent,
    urgent: bool = False,
    excluded_user_ids=(),
    attachments=(),
    draft: IntakeDraft | None = None,
    form_token: str = "",
) -> Filed | AlreadySent:
    """File a report taken in person: `case_submit` on the in-person channel,
    the reporter's request for law enforcement (`content`'s checklist key)
    recorded as the case flag, the draft it was written in deleted, and who
    took it in the audit log; all or nothing, and once per form. Returns the
    case and the receipt, which is shown once and never stored."""
    _require(actor, organisation, event=event, draft=draft)
    if actor.pk in {int(pk) for pk in excluded_user_ids}:
        raise ServiceError(SELF_EXCLUDED)
    return sent_once(
        form_token,
        lambda: _intake_file(
            actor=actor,
            organisation=organisation,
            event=event,
            content=content,
            urgent=urgent,
            excluded_user_ids=excluded_user_ids,
            attachments=attachments,
            draft=draft,
        ),
    )


def _intake_file(
    *, actor, organisation, event, content, urgent, excluded_user_ids, attachments, draft
) -> Filed:
    law_enforcement = bool(content.get("law_enforcement_requested"))
    with transaction.atomic():
        # First, so that the same draft sent from two tabs makes one case.
        if draft is not None and not IntakeDraft.objects.filter(pk=draft.pk).delete()[0]:
            raise ServiceError(DRAFT_GONE)
        filed = case_submit(
            event=event,
            content=content,
            urgent=urgent,
            excluded_user_ids=excluded_user_ids,
            channel=Channel.IN_PERSON,
            attachments=attachments,
        )
        case = filed.case
        if law_enforcement:
            case_flags_update(
                actor=actor,
                case=case,
                retaliation_concern=case.retaliation_concern,
                law_enforcement_requested=True,
            )
        audit_log(
            organisation=organisation,
            type=AuditType.INTAKE_REPORT_TAKEN,
            actor=actor,
            case=case,
            data={
                "number": case.number,
                "urgent": urgent,
                "law_enforcement": law_enforcement,
                "draft": draft is not None,
            },
        )
    return filed
