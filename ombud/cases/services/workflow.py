from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from ombud.accounts.models import User
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.clocks import paging_start
from ombud.cases.models import (
    Case,
    Exclusion,
    Grant,
    Note,
    Status,
)
from ombud.cases.services.base import message_validate, permission_require, status_set
from ombud.cases.services.keys import case_content_decrypt, case_data_key
from ombud.lib import crypto
from ombud.lib.errors import ServiceError


def case_recuse(*, actor: User, case: Case) -> None:
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


def case_acknowledge(*, actor: User, case: Case) -> Case:
    """“I'm on it”: the first responder to acknowledge does it for the team
    and stops the paging escalation."""
    permission_require(actor, "cases.act", case)
    with transaction.atomic():
        updated = Case.objects.filter(pk=case.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now(), acknowledged_by=actor
        )
        case.refresh_from_db()
        if not updated:
            raise ServiceError(
                f"{case.acknowledged_by or 'Someone'} acknowledged this case already, "
                f"at {timezone.localtime(case.acknowledged_at):%H:%M}."
            )
        if case.status in (Status.NEW, Status.REOPENED):
            status_set(case, Status.ACKNOWLEDGED)
        audit_log(
            organisation=case.organisation, type=AuditType.CASE_ACKNOWLEDGED, actor=actor, case=case
        )
    return case


# Statuses a responder sets directly; the others follow from a meeting record,
# a decision, a follow-up or an appeal.
MANUAL_STATUSES = {Status.TRIAGED, Status.CLOSED, Status.REOPENED}


def case_status_change(*, actor: User, case: Case, status: str) -> Case:
    permission_require(actor, "cases.act", case)
    if status not in MANUAL_STATUSES:
        raise ServiceError("Use the meeting, decision or appeal forms for this step.")
    with transaction.atomic():
        previous = status_set(case, status)
        audit_log(
            organisation=case.organisation,
            type=AuditType.CASE_STATUS_CHANGED,
            actor=actor,
            case=case,
            data={"from": previous, "to": status},
        )
    return case


def case_assign(*, actor: User, case: Case, assignee: User | None) -> Case:
    permission_require(actor, "cases.act", case)
    if assignee is not None and not Grant.objects.filter(case=case, user=assignee).exists():
        raise ServiceError("Only a responder who has access to the case can be assigned.")
    with transaction.atomic():
        case.assignee = assignee
        case.save(update_fields=["assignee", "updated_at"])
        audit_log(
            organisation=case.organisation,
            type=AuditType.CASE_ASSIGNED,
            actor=actor,
            case=case,
            data={"assignee": getattr(assignee, "pk", None)},
        )
    return case


def case_mark_urgent(*, actor: User, case: Case, private_key: bytes | None = None) -> Case:
    """A responder learns the incident is ongoing: page the team now. It needs
    a fresh “I'm on it”, and the 24-hour meeting clock gives way to paging."""
    permission_require(actor, "cases.act", case)
    if case.urgent:
        raise ServiceError("This case is already marked as ongoing.")

    location = ""
    if private_key is not None and case.organisation.page_shows_location:
        data_key = case_data_key(actor=actor, case=case, private_key=private_key)
        location = str(
            case_content_decrypt(case=case, data_key=data_key).report.get("location", "")
        )
    with transaction.atomic():
        case.urgent = True
        case.acknowledged_at = case.acknowledged_by = None
        case.meeting_due_at = None
        if location:
            case.page_location_box = crypto.secretbox_seal(
                crypto.pepper_key("page-location"), location.encode()
            )
        case.save(
            update_fields=[
                "urgent",
                "acknowledged_at",
                "acknowledged_by",
                "meeting_due_at",
                "page_location_box",
                "updated_at",
            ]
        )
        audit_log(
            organisation=case.organisation,
            type=AuditType.CASE_MARKED_URGENT,
            actor=actor,
            case=case,
        )
        paging_start(case=case)
    return case


def case_flags_update(
    *, actor: User, case: Case, retaliation_concern: bool, law_enforcement_requested: bool
) -> Case:
    """Flags that change handling. Law enforcement is only ever recorded as the
    reporter's request, with its time; nothing here contacts police."""
    permission_require(actor, "cases.act", case)
    with transaction.atomic():
        case.retaliation_concern = retaliation_concern
        if law_enforcement_requested and case.law_enforcement_requested_at is None:
            case.law_enforcement_requested_at = timezone.now()
        elif not law_enforcement_requested:
            case.law_enforcement_requested_at = None
        case.save(
            update_fields=["retaliation_concern", "law_enforcement_requested_at", "updated_at"]
        )
        audit_log(
            organisation=case.organisation,
            type=AuditType.CASE_FLAGS_CHANGED,
            actor=actor,
            case=case,
            data={
                "retaliation_concern": retaliation_concern,
                "law_enforcement_requested": law_enforcement_requested,
            },
        )
    return case


def note_create(*, case: Case, data_key, actor: User, kind, content) -> Note:
    note = Note(case=case, kind=kind, author=actor)
    note.content = crypto.json_encrypt(data_key, content, case_id=case.pk, field=note.content_field)
    note.save(force_insert=True)
    return note


def note_add(*, actor: User, case: Case, private_key: bytes, text: str) -> Note:
    text = message_validate(text)
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    with transaction.atomic():
        note = note_create(
            case=case, data_key=data_key, actor=actor, kind=Note.Kind.NOTE, content={"text": text}
        )
        audit_log(organisation=case.organisation, type=AuditType.NOTE_ADDED, actor=actor, case=case)
    return note


MEETING_SECTIONS = [
    ("attendees", "Who attended"),
    ("documents_reviewed", "Documentation reviewed"),
    ("past_incidents", "Past incidents consulted (write #12 to link case 12)"),
    ("responses_discussed", "Possible responses discussed"),
    ("talks_to_reported_person", "Who will talk to the reported person"),
    ("followups", "Follow-ups and who owns them"),
]


def meeting_record(*, actor: User, case: Case, private_key: bytes, sections: dict) -> Note:
    """The record of the team meeting; the case counts as triaged from then on."""
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    content = {key: str(sections.get(key, "")).strip() for key, _ in MEETING_SECTIONS}
    if not any(content.values()):
        raise ServiceError("The meeting record is empty.")
    with transaction.atomic():
        note = note_create(
            case=case, data_key=data_key, actor=actor, kind=Note.Kind.MEETING, content=content
        )
        if case.status in (Status.NEW, Status.ACKNOWLEDGED, Status.REOPENED):
            status_set(case, Status.TRIAGED)
        audit_log(
            organisation=case.organisation, type=AuditType.MEETING_RECORDED, actor=actor, case=case
        )
    return note
