"""Every write to a case. Each function checks permission, runs in one
transaction, writes its audit event and schedules side effects on commit."""

import base64
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr

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
from ombud.cases.attachments import attachments_store, case_field_open, case_inbox_new
from ombud.cases.clocks import clocks_start
from ombud.cases.models import (
    TRANSITIONS,
    Appeal,
    Attachment,
    Case,
    Channel,
    ConsentRecord,
    Decision,
    DecisionResponse,
    Exclusion,
    Grant,
    Message,
    Note,
    PublicStatementConsent,
    ReportedPersonMessage,
    Status,
    Submission,
)
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.notify.models import OutboxMessage
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
    attachments=(),
    case_hook=None,
) -> tuple[Case, str]:
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
    email = contact_email(content.get("reporter_contact", ""))

    with transaction.atomic():
        # Lock the organisation so case numbers are allocated one at a time,
        # and read the recovery key under the lock: a key rotation swaps it
        # under the same lock (ombud.orgs.recovery).
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
        case_inbox_new(case, data_key)
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
                "attachments": len(attachments),
            },
        )
        if case_hook is not None:
            case_hook(case, data_key)
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
    # (attachment, file name); the content is read only on download.
    attachments: list[tuple["Attachment", str]] = field(default_factory=list)
    # Staff only: never decrypted for the reporter.
    notes: list[tuple[Note, dict]] = field(default_factory=list)
    decisions: list[tuple[Decision, str]] = field(default_factory=list)
    appeals: list[tuple[Appeal, str]] = field(default_factory=list)
    reported_messages: list[tuple[ReportedPersonMessage, dict]] = field(default_factory=list)

    @property
    def report(self) -> dict:
        return self.submissions[0][1] if self.submissions else {}


def case_content_decrypt(*, case, data_key: bytes, staff: bool = False) -> CaseContent:
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


def case_content_read(*, actor, case, private_key: bytes) -> CaseContent:
    """Decrypt a case for a responder. Every read is an audit event."""
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    content = case_content_decrypt(case=case, data_key=data_key, staff=True)
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
        if is_followup and case.status == Status.DECIDED:
            _status_set(case, Status.FOLLOWED_UP)
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
    text = (
        f"There is a new message from the {organisation.name} incident response team "
        f"about the report you made.\n\nRead it and reply with your receipt at:\n{url}\n"
    )
    if team_email:
        text += (
            f"\nYou can also answer by replying to this email; keep [#{tag}] in the "
            "subject. Email is not encrypted on its way to us: the link above is the "
            "safer way.\n"
        )
    if organisation.full_content_email:
        text += f"\n--- The message ---\n\n{body}\n"
    outbox_email(
        organisation=organisation,
        to=email,
        subject=f"[{mail_header_text(organisation.name)}] New message about your report [#{tag}]",
        body=text,
        topic=OutboxMessage.Topic.TO_REPORTER,
        headers={"Message-ID": mail_message_id_new(case=case)},
        reply_to=team_email,
    )


# --- the case's mail identity (DESIGN §8) ---------------------------------------

MAIL_TAG_BYTES = 10  # 80 random bits: 16 base32 characters


def mail_header_text(value: str) -> str:
    """Our own text for a mail header, on one line whatever it holds."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(value)).split())


def mail_tag_lookup(tag: str) -> bytes:
    return crypto.token_hash("mail-tag", tag.strip().upper().encode())


def mail_thread_lookup(message_id: str) -> bytes:
    """Keyed hash of a Message-ID as `ombud.intake.mail.message_id_normalise` gives it."""
    return crypto.token_hash("mail-thread", message_id.encode())


def case_mail_tag(*, case, data_key: bytes | None = None) -> str:
    """The case's secret mail tag, made on first use inside the caller's
    transaction. It is random, never the case number: whoever knows it can add
    mail to the case. A case from before the inbox existed gets its inbox
    too (which needs the case key), since replies are sealed to it."""
    if case.mail_tag_box:
        return crypto.secretbox_open(crypto.pepper_key("mail-tag"), case.mail_tag_box).decode()
    tag = base64.b32encode(secrets.token_bytes(MAIL_TAG_BYTES)).decode()
    case.mail_tag_lookup = mail_tag_lookup(tag)
    case.mail_tag_box = crypto.secretbox_seal(crypto.pepper_key("mail-tag"), tag.encode())
    fields = ["mail_tag_lookup", "mail_tag_box"]
    if case.inbox_public_key is None and data_key is not None:
        case_inbox_new(case, data_key)
        fields += ["inbox_public_key", "inbox_private_box"]
    case.save(update_fields=fields)
    return tag


def mail_message_id_new(*, case) -> str:
    """A Message-ID for mail we send about a case, recorded (as a keyed hash)
    so that a reply naming it joins the case. Random like the tag, for the
    same reason."""
    from ombud.intake.models import MailThreadRef

    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2].lower()
    if not re.fullmatch(r"[a-z0-9.-]{1,200}", domain):
        domain = "ombud.invalid"
    message_id = f"{secrets.token_hex(16)}@{domain}"
    MailThreadRef.objects.create(case=case, lookup=mail_thread_lookup(message_id))
    return f"<{message_id}>"


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


# --- the workflow (DESIGN §3) -------------------------------------------------


def _require(actor, permission: str, case) -> None:
    if not actor.has_perm(permission, case):
        raise PermissionDenied


def _status_set(case, status: str) -> str:
    """Move the case on, or refuse with a message a responder can act on."""
    if status == case.status:
        return status
    if status not in TRANSITIONS[case.status]:
        raise ServiceError(
            f"A case that is “{case.get_status_display().lower()}” cannot become "
            f"“{Status(status).label.lower()}”."
        )
    previous = case.status
    case.status = status
    case.save(update_fields=["status", "updated_at"])
    return previous


def case_acknowledge(*, actor, case) -> Case:
    """“I'm on it”: the first responder to acknowledge does it for the team
    and stops the paging escalation."""
    _require(actor, "cases.act", case)
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
            _status_set(case, Status.ACKNOWLEDGED)
        audit_log(
            organisation=case.organisation, type=AuditType.CASE_ACKNOWLEDGED, actor=actor, case=case
        )
    return case


# Statuses a responder sets directly; the others follow from a meeting record,
# a decision, a follow-up or an appeal.
MANUAL_STATUSES = {Status.TRIAGED, Status.CLOSED, Status.REOPENED}


def case_status_change(*, actor, case, status: str) -> Case:
    _require(actor, "cases.act", case)
    if status not in MANUAL_STATUSES:
        raise ServiceError("Use the meeting, decision or appeal forms for this step.")
    with transaction.atomic():
        previous = _status_set(case, status)
        audit_log(
            organisation=case.organisation,
            type=AuditType.CASE_STATUS_CHANGED,
            actor=actor,
            case=case,
            data={"from": previous, "to": status},
        )
    return case


def case_assign(*, actor, case, assignee) -> Case:
    _require(actor, "cases.act", case)
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


def case_mark_urgent(*, actor, case, private_key: bytes | None = None) -> Case:
    """A responder learns the incident is ongoing: page the team now. It needs
    a fresh “I'm on it”, and the 24-hour meeting clock gives way to paging."""
    _require(actor, "cases.act", case)
    if case.urgent:
        raise ServiceError("This case is already marked as ongoing.")
    from ombud.cases.clocks import paging_start

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
    *, actor, case, retaliation_concern: bool, law_enforcement_requested: bool
) -> Case:
    """Flags that change handling. Law enforcement is only ever recorded as the
    reporter's request, with its time; nothing here contacts police."""
    _require(actor, "cases.act", case)
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


def _note_create(*, case, data_key, actor, kind, content) -> Note:
    note = Note(case=case, kind=kind, author=actor)
    note.content = crypto.json_encrypt(data_key, content, case_id=case.pk, field=note.content_field)
    note.save(force_insert=True)
    return note


def note_add(*, actor, case, private_key: bytes, text: str) -> Note:
    text = message_validate(text)
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    with transaction.atomic():
        note = _note_create(
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


def meeting_record(*, actor, case, private_key: bytes, sections: dict) -> Note:
    """The record of the team meeting; the case counts as triaged from then on."""
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    content = {key: str(sections.get(key, "")).strip() for key, _ in MEETING_SECTIONS}
    if not any(content.values()):
        raise ServiceError("The meeting record is empty.")
    with transaction.atomic():
        note = _note_create(
            case=case, data_key=data_key, actor=actor, kind=Note.Kind.MEETING, content=content
        )
        if case.status in (Status.NEW, Status.ACKNOWLEDGED, Status.REOPENED):
            _status_set(case, Status.TRIAGED)
        audit_log(
            organisation=case.organisation, type=AuditType.MEETING_RECORDED, actor=actor, case=case
        )
    return note


def decision_participants(decision) -> set[int]:
    return {pk for pk in (decision.decided_by_id, decision.approved_by_id) if pk}


def decision_record(
    *, actor, case, private_key: bytes, violation: str, rationale: str, responses
) -> Decision:
    """Record what the team decided: a violation finding, responses from the
    catalog (each with an owner) and the rationale. Responses at or above the
    organisation's two-person severity leave the decision proposed until a
    second responder agrees. On an appealed case, only someone who took no part
    in the appealed decision may decide."""
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    organisation = case.organisation
    if violation not in Decision.Violation.values:
        raise ServiceError("Choose whether this was a violation.")
    responses = list(responses)
    for response_type, owner in responses:
        if response_type.organisation_id != organisation.pk or response_type.retired:
            raise ServiceError(f"“{response_type}” is not in the response catalog.")
        if owner is not None and not Grant.objects.filter(case=case, user=owner).exists():
            raise ServiceError(f"{owner} has no access to this case and cannot own a response.")
    appeal = None
    if case.status == Status.APPEALED:
        appeal = case.appeals.filter(outcome__isnull=True).select_related("decision").last()
        if appeal and actor.pk in decision_participants(appeal.decision):
            raise ServiceError(
                "You took part in the appealed decision; another responder reviews it."
            )
    threshold = organisation.two_person_severity
    needs_second = threshold is not None and any(rt.severity >= threshold for rt, _ in responses)
    with transaction.atomic():
        decision = Decision(
            case=case,
            violation=violation,
            decided_by=actor,
            is_final=not needs_second,
            is_appeal_outcome=appeal is not None,
        )
        decision.rationale = crypto.field_encrypt(
            data_key, rationale.strip().encode(), case_id=case.pk, field=decision.rationale_field
        )
        decision.save(force_insert=True)
        DecisionResponse.objects.bulk_create(
            DecisionResponse(decision=decision, response_type=rt, owner=owner)
            for rt, owner in responses
        )
        if decision.is_final:
            _decision_takes_effect(decision, appeal)
        audit_log(
            organisation=organisation,
            type=AuditType.DECISION_RECORDED,
            actor=actor,
            case=case,
            data={
                "violation": violation,
                "responses": [rt.pk for rt, _ in responses],
                "final": decision.is_final,
            },
        )
    return decision


def _decision_takes_effect(decision, appeal) -> None:
    if appeal is not None:
        appeal.outcome = decision
        appeal.save(update_fields=["outcome"])
    _status_set(decision.case, Status.DECIDED)


def decision_approve(*, actor, decision) -> Decision:
    case = decision.case
    _require(actor, "cases.act", case)
    if decision.is_final:
        raise ServiceError("This decision is already final.")
    if decision.decided_by_id == actor.pk:
        raise ServiceError("A second responder must agree; you proposed this decision.")
    appeal = case.appeals.filter(outcome__isnull=True).select_related("decision").last()
    if decision.is_appeal_outcome and appeal and actor.pk in decision_participants(appeal.decision):
        raise ServiceError("You took part in the appealed decision; another responder reviews it.")
    with transaction.atomic():
        decision.approved_by = actor
        decision.is_final = True
        decision.save(update_fields=["approved_by", "is_final"])
        _decision_takes_effect(decision, appeal if decision.is_appeal_outcome else None)
        audit_log(
            organisation=case.organisation,
            type=AuditType.DECISION_APPROVED,
            actor=actor,
            case=case,
            data={"decision": str(decision.pk)},
        )
    return decision


def response_done_set(*, actor, response, done: bool) -> DecisionResponse:
    case = response.decision.case
    _require(actor, "cases.act", case)
    with transaction.atomic():
        response.done_at = timezone.now() if done else None
        response.save(update_fields=["done_at"])
        audit_log(
            organisation=case.organisation,
            type=AuditType.RESPONSE_DONE_CHANGED,
            actor=actor,
            case=case,
            data={"response": response.pk, "done": done},
        )
    return response


def appeal_record(*, actor, case, private_key: bytes, statement: str) -> Appeal:
    """The reported person appeals the decision. The case goes to `appealed`,
    and the responders who took no part in the decision are asked to review."""
    statement = message_validate(statement)
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    decision = case.decisions.filter(is_final=True).last()
    if decision is None:
        raise ServiceError("There is no decision to appeal yet.")
    with transaction.atomic():
        _status_set(case, Status.APPEALED)
        appeal = Appeal(case=case, decision=decision, recorded_by=actor)
        appeal.statement = crypto.field_encrypt(
            data_key, statement.encode(), case_id=case.pk, field=appeal.statement_field
        )
        appeal.save(force_insert=True)
        audit_log(
            organisation=case.organisation, type=AuditType.APPEAL_RECORDED, actor=actor, case=case
        )
        url = settings.SITE_ROOT + reverse(
            "case-detail", args=[case.organisation.slug, case.number]
        )
        for grant in appeal_reviewers(case=case, decision=decision):
            outbox_email(
                organisation=case.organisation,
                to=grant.user.email,
                subject=f"[Ombud] Appeal to review: case {case.number}",
                body=(
                    f"The decision on case {case.number} ({case.event.name}) was appealed. "
                    "You took no part in it, so you are asked to review it.\n\n"
                    f"{url}\n\nThis message contains no case content on purpose.\n"
                ),
                case=case,
                user=grant.user,
            )
    return appeal


def appeal_reviewers(*, case, decision):
    return (
        Grant.objects.filter(case=case)
        .exclude(user_id__in=decision_participants(decision))
        .select_related("user")
    )


# --- messages to the reported person (DESIGN §9) ---------------------------------


def identifying_strings(report: dict) -> list[tuple[str, str]]:
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
    *, actor, case, private_key: bytes, to: str, body: str, identifying_ok: bool = False
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


def reported_message_approve(*, actor, message, private_key: bytes) -> ReportedPersonMessage:
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
    outbox_email(
        organisation=case.organisation,
        to=content["to"],
        subject=f"[{case.organisation.name}] About the Code of Conduct",
        body=content["body"],
    )
    message.sent_at = timezone.now()
    message.save(update_fields=["sent_at"])
    audit_log(
        organisation=case.organisation,
        type=AuditType.REPORTED_MESSAGE_SENT,
        actor=actor,
        case=case,
    )
