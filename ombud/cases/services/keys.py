from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import transaction

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


def case_data_key(*, actor: User, case: Case, private_key: bytes) -> bytes:
    """Open the case key with the actor's grant. PermissionDenied without one."""
    if not actor.has_perm("cases.view_case", case):
        raise PermissionDenied
    grant = Grant.objects.filter(case=case, user=actor).first()
    if grant is None:
        raise PermissionDenied
    return crypto.data_key_unseal(private_key, grant.wrapped_key)


@dataclass
class CaseContent:
    submissions: list[tuple[Submission, ReportContent]]
    messages: list[tuple[Message, str]]
    # (attachment, file name); the content is read only on download.
    attachments: list[tuple["Attachment", str]] = field(default_factory=list)
    # Staff only: never decrypted for the reporter.
    notes: list[tuple[Note, dict]] = field(default_factory=list)
    decisions: list[tuple[Decision, str]] = field(default_factory=list)
    appeals: list[tuple[Appeal, str]] = field(default_factory=list)
    reported_messages: list[tuple[ReportedPersonMessage, dict]] = field(default_factory=list)

    @property
    def report(self) -> ReportContent:
        return self.submissions[0][1] if self.submissions else {}


def case_content_decrypt(*, case: Case, data_key: bytes, staff: bool = False) -> CaseContent:
    """What the reporter and the team wrote on a case, decrypted; with
    `staff`, the team's internal notes, decisions and appeals too."""

    def text(blob, field_name):
        return case_field_open(case, blob, field=field_name, data_key=data_key).decode()

    def data(blob, field_name):
        return crypto.json_decrypt(data_key, blob, case_id=case.pk, field=field_name)

    content = CaseContent(
        submissions=[(s, data(s.content, s.content_field)) for s in case.submissions.all()],
        messages=[(m, text(m.body, m.body_field)) for m in case.messages.select_related("author")],
        attachments=[(a, text(a.name, a.name_field)) for a in case.attachments.defer("content")],
    )
    if staff:
        content.notes = [
            (n, data(n.content, n.content_field)) for n in case.notes.select_related("author")
        ]
        content.decisions = [
            (d, text(d.rationale, d.rationale_field))
            for d in case.decisions.select_related("decided_by", "approved_by").prefetch_related(
                "responses__response_type", "responses__owner"
            )
        ]
        content.appeals = [
            (a, text(a.statement, a.statement_field))
            for a in case.appeals.select_related("recorded_by", "outcome")
        ]
        content.reported_messages = [
            (m, data(m.content, m.content_field))
            for m in case.reported_messages.select_related("author", "approved_by")
        ]
    return content


def case_content_read(*, actor: User, case: Case, private_key: bytes) -> CaseContent:
    """Decrypt a case for a responder. Every read is an audit event."""
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    content = case_content_decrypt(case=case, data_key=data_key, staff=True)
    with transaction.atomic():
        audit_log(
            organisation=case.organisation, type=AuditType.CASE_CONTENT_READ, actor=actor, case=case
        )
    return content
