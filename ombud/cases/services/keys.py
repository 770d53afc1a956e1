import logging
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import models, transaction

from ombud.accounts.models import User
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.attachments import case_field_open
from ombud.cases.models import (
    Appeal,
    Attachment,
    Case,
    Decision,
    Grant,
    Message,
    Note,
    ReportedPersonMessage,
    Submission,
)
from ombud.cases.schema import ReportContent
from ombud.lib import crypto

logger = logging.getLogger(__name__)


def case_data_key(*, actor: User, case: Case, private_key: bytes) -> bytes:
    """Open the case key with the actor's grant. PermissionDenied without one."""
    if not actor.has_perm("cases.view_case", case):
        raise PermissionDenied
    grant = Grant.objects.filter(case=case, user=actor).first()
    if grant is None:
        raise PermissionDenied
    return crypto.data_key_unseal(private_key, grant.wrapped_key)


class ContentUndecryptable(Exception):
    """A stored item did not open under its key; already logged and audited."""


def content_integrity_failed(
    *, case: Case, row: models.Model, field: str, actor: User | None = None
) -> None:
    """A stored field did not open: tampered with, damaged, or written by
    someone without the case key. Logged and audited by row and field,
    never with content; the page shows the item as undecryptable."""
    kind = type(row).__name__.lower()
    logger.warning("case content integrity: %s %s (%s) cannot be decrypted", kind, row.pk, field)
    with transaction.atomic():
        audit_log(
            organisation=case.organisation,
            type=AuditType.CONTENT_INTEGRITY_FAILED,
            actor=actor,
            case=case,
            data={"kind": kind, "row": str(row.pk), "field": field},
        )


# An item that could not be decrypted is None in CaseContent; the templates
# show "This item cannot be decrypted" in its place.


@dataclass
class CaseContent:
    submissions: list[tuple[Submission, ReportContent | None]]
    messages: list[tuple[Message, str | None]]
    # (attachment, file name); the content is read only on download.
    attachments: list[tuple["Attachment", str | None]] = field(default_factory=list)
    # Staff only: never decrypted for the reporter.
    notes: list[tuple[Note, dict | None]] = field(default_factory=list)
    decisions: list[tuple[Decision, str | None]] = field(default_factory=list)
    appeals: list[tuple[Appeal, str | None]] = field(default_factory=list)
    reported_messages: list[tuple[ReportedPersonMessage, dict | None]] = field(default_factory=list)

    @property
    def report(self) -> ReportContent:
        return (self.submissions[0][1] or {}) if self.submissions else {}


def case_content_decrypt(
    *, case: Case, data_key: bytes, staff: bool = False, actor: User | None = None
) -> CaseContent:
    """What the reporter and the team wrote on a case, decrypted; with
    `staff`, the team's internal notes, decisions and appeals too. An item
    that does not open is None, and an integrity event names it (the reader
    is `actor`, or the reporter with the receipt)."""

    def opened(row, field_name: str, open_field):
        try:
            return open_field()
        except (crypto.DecryptionError, ValueError):  # ValueError: not UTF-8 or JSON
            content_integrity_failed(case=case, row=row, field=field_name, actor=actor)
            return None

    def text(row, blob, field_name: str, by_mail: bool = False):
        return opened(
            row,
            field_name,
            lambda: case_field_open(
                case, blob, field=field_name, data_key=data_key, by_mail=by_mail
            ).decode(),
        )

    def data(row, blob, field_name: str):
        return opened(
            row,
            field_name,
            lambda: crypto.json_decrypt(data_key, blob, case_id=case.pk, field=field_name),
        )

    attachments = case.attachments.select_related("message").defer("content", "message__body")
    content = CaseContent(
        submissions=[(s, data(s, s.content, s.content_field)) for s in case.submissions.all()],
        messages=[
            (m, text(m, m.body, m.body_field, m.arrived_by_mail))
            for m in case.messages.select_related("author")
        ],
        attachments=[(a, text(a, a.name, a.name_field, a.arrived_by_mail)) for a in attachments],
    )
    if staff:
        content.notes = [
            (n, data(n, n.content, n.content_field)) for n in case.notes.select_related("author")
        ]
        content.decisions = [
            (d, text(d, d.rationale, d.rationale_field))
            for d in case.decisions.select_related("decided_by", "approved_by").prefetch_related(
                "responses__response_type", "responses__owner"
            )
        ]
        content.appeals = [
            (a, text(a, a.statement, a.statement_field))
            for a in case.appeals.select_related("recorded_by", "outcome")
        ]
        content.reported_messages = [
            (m, data(m, m.content, m.content_field))
            for m in case.reported_messages.select_related("author", "approved_by")
        ]
    return content


def case_content_read(*, actor: User, case: Case, private_key: bytes) -> CaseContent:
    """Decrypt a case for a responder. Every read is an audit event."""
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    content = case_content_decrypt(case=case, data_key=data_key, staff=True, actor=actor)
    with transaction.atomic():
        audit_log(
            organisation=case.organisation, type=AuditType.CASE_CONTENT_READ, actor=actor, case=case
        )
    return content
