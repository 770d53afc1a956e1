"""Email intake (DESIGN §8): one raw message in, one case or one message on a
case or a logged rejection out. The transports (IMAP poller, anymail inbound
webhook, `manage.py smtpd`) all call `mail_receive` and do nothing else with
the content.

How a mail is read is in ombud.intake.mail (with the table of what becomes of
each kind of mail); here it is routed, deduplicated and stored:

- routed by its recipients (the envelope's when the transport knows them,
  else X-Original-To, Delivered-To, To and Cc in that order) to the event
  whose team address it is; team+TAG@ reaches the team address too;
- taken in once per organisation: an InboundMail row, found by a keyed hash
  of the Message-ID (of the raw bytes without one), is inserted in the same
  transaction as what the mail becomes;
- a reply joins a case only when it names the case's secret tag or one of
  our Message-IDs, they agree, and the case belongs to the organisation the
  mail was sent to; anything else starts a new case;
- the sender of a new case gets an automatic answer with the receipt; replies,
  automatic mail and list mail get none.

Logs say what happened to a mail with ids and short reasons only."""

import logging
from dataclasses import dataclass
from datetime import date
from email.utils import parseaddr

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.urls import reverse

from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.attachments import (
    MAX_BYTES,
    MAX_FILES,
    MAX_TOTAL,
    Upload,
    attachments_store,
    attachments_validate,
    case_field_seal,
    content_type_detect,
)
from ombud.cases.models import Case, Channel, MailThreadRef, Message, PublicStatementConsent
from ombud.cases.schema import ReportContent
from ombud.cases.services.mail import (
    case_mail_tag,
    mail_message_id_new,
    mail_tag_lookup,
    mail_thread_lookup,
)
from ombud.cases.services.submit import case_submit
from ombud.cases.tasks import case_notify_reporter_wrote
from ombud.intake.mail import (
    TRUNCATED_NOTE,
    ParsedMail,
    address_base,
    address_valid,
    mail_parse,
    tags_in,
)
from ombud.intake.models import InboundMail
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.lib.throttle import throttle_allow
from ombud.notify.models import OutboxMessage
from ombud.notify.services import email_send, mail_header_text
from ombud.orgs.models import Event, Membership, Role

logger = logging.getLogger(__name__)

Outcome = InboundMail.Outcome
NO_ROUTE = "no event has this address"


@dataclass(frozen=True)
class MailOutcome:
    outcome: str  # an InboundMail.Outcome value
    case_id: object = None  # the case created or answered, if any
    # True when the message could not be processed at all (unparseable): the
    # transport keeps it aside (IMAP: moves it to the quarantine folder) instead
    # of deleting it. Everything else may be deleted from the mailbox.
    quarantine: bool = False
    reason: str = ""  # short, content-free, safe to log
    organisation_id: object = None  # the organisation it was routed to, if any

    @property
    def duplicate(self) -> bool:
        return self.reason == "duplicate"


class NotStored(Exception):
    """The mail was read but cannot be stored; `reason` is short and content-free."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Route:
    event: Event
    address: str  # the team address it reached (as the event has it)

    @property
    def organisation(self):
        return self.event.organisation


def mail_receive(raw: bytes, *, envelope_recipients: list[str] | None = None) -> MailOutcome:
    """Take in one raw RFC 5322 message. Commits before returning; the caller
    deletes the mail from its mailbox only after this returns. Never raises for
    bad mail: returns an outcome (rejections and quarantines are logged without
    content). `envelope_recipients` (SMTP RCPT TO, a webhook's envelope) route
    the mail when given; otherwise the To/Cc/Delivered-To headers do.

    Database errors do raise: the transport keeps the mail and tries again."""
    mail = mail_parse(raw)
    envelope = [a for a in (address_valid(r) for r in envelope_recipients or ()) if a]
    recipients = envelope or mail.recipients
    route = route_find(recipients)
    if mail.unreadable:
        return _quarantine(route, reason=mail.unreadable)
    if route is None:
        return _logged(MailOutcome(Outcome.REJECTED, reason=NO_ROUTE))

    organisation = route.organisation
    lookup = crypto.token_hash("mail-id", mail.dedup_key)
    try:
        with transaction.atomic():
            seen = InboundMail.objects.filter(organisation=organisation, lookup=lookup).first()
            if seen is not None:
                return _logged(_duplicate(seen))
            inbound = InboundMail.objects.create(
                organisation=organisation, lookup=lookup, outcome=Outcome.REJECTED
            )
            outcome = _take_in(mail, route=route, recipients=recipients, inbound=inbound)
    except IntegrityError:
        # The same mail taken in at the same moment by another process.
        seen = InboundMail.objects.filter(organisation=organisation, lookup=lookup).first()
        if seen is None:
            raise
        return _logged(_duplicate(seen))
    except NotStored as e:
        return _quarantine(route, reason=e.reason)
    return _logged(outcome)


def mail_failed(raw: bytes) -> MailOutcome:
    """`mail_receive` raised on this mail and the transport keeps it aside
    (IMAP: the quarantine folder): the chairs of the organisation it was for
    are told, as for unreadable mail."""
    return _quarantine(route_find(mail_parse(raw).recipients), reason="error while taking it in")


def _duplicate(seen: InboundMail) -> MailOutcome:
    return MailOutcome(
        seen.outcome,
        case_id=seen.case_id,
        reason="duplicate",
        organisation_id=seen.organisation_id,
    )


def _logged(outcome: MailOutcome) -> MailOutcome:
    level = logging.WARNING if outcome.outcome == Outcome.REJECTED else logging.INFO
    logger.log(
        level,
        "mail %s%s (organisation %s, case %s)",
        outcome.outcome,
        f": {outcome.reason}" if outcome.reason else "",
        outcome.organisation_id,
        outcome.case_id,
    )
    return outcome


# --- routing ---------------------------------------------------------------------


def _event_rank(event: Event):
    """Among events sharing an address: one that takes reports, the standing
    event, then the one that started last."""
    return (event.accepts_reports, event.is_standing, event.starts_on or date.min, event.pk)


def route_find(recipients: list[str]) -> Route | None:
    """The event a mail is for: the first recipient that is some event's team
    address (plus-addressing allowed) decides the organisation."""
    wanted = {a.lower() for a in recipients} | {address_base(a) for a in recipients}
    if not wanted:
        return None
    events = [e for e in _team_address_events() if e.address in wanted]  # type: ignore[attr-defined]
    for recipient in recipients:
        keys = {recipient.lower(), address_base(recipient)}
        matching = [e for e in events if e.address in keys]  # type: ignore[attr-defined]
        if matching:
            organisation_id = max(matching, key=_event_rank).organisation_id
            event = max(
                (e for e in matching if e.organisation_id == organisation_id), key=_event_rank
            )
            return Route(event=event, address=event.team_email)
    return None


def _own_address(sender: str, *, organisation) -> bool:
    """Mail from ourselves: our sending address or a team address of the
    organisation written to (another organisation's addresses are not ours
    to judge: its chair could otherwise silence anyone by naming them)."""
    if not sender:
        return False
    ours = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower()
    base = address_base(sender)
    if base in (ours, address_base(ours)):
        return True
    # Compared here, not in SQL, for the reason in _team_address_events.
    team_addresses = organisation.events.exclude(team_email="").values_list("team_email", flat=True)
    return base in {address.lower() for address in team_addresses}


def _team_address_events() -> list[Event]:
    """Every event with a team address, its address lower-cased (`address`). Mail is
    matched against them here, not in SQL: a query with a sender's or a Cc'd
    person's address as a parameter would put it in the SQL log."""
    return list(
        Event.objects.exclude(team_email="")
        .annotate(address=Lower("team_email"))
        .select_related("organisation")
    )


# --- taking it in ------------------------------------------------------------------


def _take_in(mail: ParsedMail, *, route: Route, recipients, inbound) -> MailOutcome:
    organisation = route.organisation
    own = _own_address(mail.sender, organisation=organisation)
    ignored = mail.auto or ("own address" if own else "")
    if ignored:
        inbound.outcome = Outcome.IGNORED
        inbound.save(update_fields=["outcome"])
        audit_log(organisation=organisation, type=AuditType.MAIL_IGNORED, data={"reason": ignored})
        return MailOutcome(Outcome.IGNORED, reason=ignored, organisation_id=organisation.pk)

    case, refused_because = _case_answered(mail, route=route, recipients=recipients)
    uploads, notes = _files_checked(mail.attachments)
    if case is not None:
        _reply_store(mail, case=case, uploads=uploads, notes=notes)
        outcome = Outcome.MESSAGE
    else:
        case = _case_new(mail, route=route, uploads=uploads, notes=notes)
        outcome = Outcome.CASE
        if refused_because:
            audit_log(
                organisation=organisation,
                type=AuditType.MAIL_THREAD_REFUSED,
                case=case,
                data={"reason": refused_because},
            )
    inbound.case = case
    inbound.outcome = outcome
    inbound.save(update_fields=["case", "outcome"])
    return MailOutcome(outcome, case_id=case.pk, organisation_id=organisation.pk)


def _case_answered(mail: ParsedMail, *, route: Route, recipients) -> tuple[Case | None, str]:
    """The case a reply belongs to, or (None, why it joins none). It joins a
    case only when every tag and every known thread id point to that one case
    and the case is of the organisation the mail was sent to: a number in the
    subject, a tag that contradicts the thread, or another organisation's
    case starts a new case."""
    tags = tags_in(mail.subject, recipients)
    tagged = Case.objects.filter(mail_tag_lookup__in=[mail_tag_lookup(t) for t in tags])
    tag_hits = {
        bytes(lookup): pk
        for lookup, pk in tagged.values_list("mail_tag_lookup", "pk")
        if lookup is not None
    }
    thread_cases = set(
        MailThreadRef.objects.filter(
            lookup__in=[mail_thread_lookup(i) for i in mail.thread_ids]
        ).values_list("case_id", flat=True)
    )
    found = set(tag_hits.values()) | thread_cases
    if not found:
        return None, ""
    if len(found) > 1 or (thread_cases and len(tag_hits) < len(tags)):
        return None, "tag and thread disagree"
    case = Case.objects.select_related("organisation", "event").get(pk=found.pop())
    if case.organisation_id != route.organisation.pk:
        return None, "case of another organisation"
    return case, ""


def _files_checked(files) -> tuple[list, list[str]]:
    """The files we keep, and a line for each one we do not (by name, for the
    case text only: a refused file never refuses the mail)."""
    uploads: list[Upload] = []
    notes: list[str] = []
    total = 0
    for name, data in files:
        if not data:
            reason = "empty"
        elif len(data) > MAX_BYTES:
            reason = f"larger than {MAX_BYTES // 1024 // 1024} MB"
        elif content_type_detect(data) is None:
            reason = "type not accepted"
        elif len(uploads) >= MAX_FILES:
            reason = f"more than {MAX_FILES} files"
        elif total + len(data) > MAX_TOTAL:
            reason = f"more than {MAX_TOTAL // 1024 // 1024} MB in all"
        else:
            total += len(data)
            uploads += attachments_validate([(name, data)])
            continue
        notes.append(f"[attachment '{name}' not kept: {reason}]")
    return uploads, notes


def _text_of(mail: ParsedMail, *, with_subject: bool, notes: list[str]) -> str:
    parts = []
    if with_subject and mail.subject:
        parts.append(mail.subject)
    if mail.text:
        parts.append(mail.text + (TRUNCATED_NOTE if mail.truncated else ""))
    if notes:
        parts.append("\n".join(notes))
    return "\n\n".join(parts)


def _case_new(mail: ParsedMail, *, route: Route, uploads, notes) -> Case:
    description = _text_of(mail, with_subject=True, notes=notes)
    if not description:
        if not uploads:
            raise NotStored("empty")
        description = "[The mail had no text, only the attached files.]"
    event = route.event
    if not event.accepts_reports:
        standing = Event.objects.filter(
            organisation=event.organisation, is_standing=True, accepts_reports=True
        ).first()
        event = standing or event  # case_submit refuses a closed event: quarantined
    content: ReportContent = {
        "description": description,
        "reporter_name": mail.sender_name,
        "reporter_contact": mail.sender,
        # They wrote to us by email: answering there is what they expect.
        "consent_contact": bool(mail.sender),
        "consent_public": PublicStatementConsent.NO,
    }
    tags = []
    try:
        filed = case_submit(
            event=event,
            content=content,
            channel=Channel.EMAIL,
            attachments=uploads,
            case_hook=lambda case, key: tags.append(case_mail_tag(case=case, data_key=key)),
        )
    except ServiceError:
        # A closed event without an open standing event, or nobody who could
        # read the case: kept aside for the chairs rather than lost.
        raise NotStored("no case could be made") from None
    if mail.sender and not mail.no_reply and _auto_reply_allowed(mail.sender):
        _auto_reply(mail, case=filed.case, receipt=filed.receipt, tag=tags[0], route=route)
    return filed.case


def _auto_reply_allowed(sender: str) -> bool:
    """At most OMBUD_MAIL_AUTO_REPLIES_PER_HOUR automatic answers to one
    address: an autoresponder that marks nothing, or a forged sender, must not
    make a mail loop or a flood. The cases are made all the same."""

    return throttle_allow(
        scope="mail-auto-reply",
        ident=address_base(sender),
        limit=settings.OMBUD_MAIL_AUTO_REPLIES_PER_HOUR,
        window_seconds=3600,
    )


def _auto_reply(mail: ParsedMail, *, case, receipt: str, tag: str, route: Route) -> None:
    """The receipt, the portal link and the tag, to the sender. Its headers are
    our own values and the validated address only; it quotes nothing."""
    organisation = case.organisation
    name = mail_header_text(organisation.name)
    url = settings.SITE_ROOT + reverse("portal-enter", args=[organisation.slug])
    headers = {
        "Message-ID": mail_message_id_new(case=case),
        "Auto-Submitted": "auto-replied",
        "X-Auto-Response-Suppress": "All",
    }
    if mail.message_id:
        headers["In-Reply-To"] = headers["References"] = f"<{mail.message_id}>"
    email_send(
        organisation=organisation,
        to=mail.sender,
        template="mail_report_received",
        context={"organisation_name": name, "receipt": receipt, "tag": tag, "url": url},
        topic=OutboxMessage.Topic.TO_REPORTER,
        headers=headers,
        reply_to=address_valid(route.address) or None,
    )


def _reply_store(mail: ParsedMail, *, case, uploads, notes) -> Message:
    """A reply becomes a message from the reporter, sealed to the case inbox:
    no case key is at hand, and none is needed to write. The team is told as
    for a message in the portal; the sender gets no automatic answer."""

    body = _text_of(mail, with_subject=False, notes=notes) or mail.subject
    body = body or "[The mail had no text, only the attached files.]"
    message = Message(case=case, direction=Message.Direction.FROM_REPORTER, via=Message.Via.EMAIL)
    try:
        message.body = case_field_seal(case, body.encode(), field=message.body_field)
    except ServiceError:  # a case without an inbox
        raise NotStored("the case takes no mail") from None
    message.save(force_insert=True)
    attachments_store(case=case, uploads=uploads, message=message)
    audit_log(
        organisation=case.organisation,
        type=AuditType.MESSAGE_FROM_REPORTER,
        case=case,
        data={"via": "email", "attachments": len(uploads)},
    )
    case_id = str(case.pk)
    transaction.on_commit(lambda: case_notify_reporter_wrote.enqueue(case_id=case_id))
    return message


# --- what cannot be taken in ----------------------------------------------------------


def _quarantine(route: Route | None, *, reason: str) -> MailOutcome:
    """Kept aside by the transport. The chairs of the organisation it was for
    are told that it exists, never what it says."""
    organisation = route.organisation if route else None
    if route is not None and organisation is not None:
        with transaction.atomic():
            audit_log(
                organisation=organisation,
                type=AuditType.MAIL_QUARANTINED,
                data={"reason": reason},
            )
            chairs = Membership.objects.filter(
                organisation=organisation, role=Role.CHAIR, user__is_active=True
            ).select_related("user")
            for membership in chairs:
                email_send(
                    organisation=organisation,
                    to=membership.user.email,
                    template="mail_quarantined",
                    context={"address": route.address, "reason": reason},
                    user=membership.user,
                )
    return _logged(
        MailOutcome(
            Outcome.REJECTED,
            quarantine=True,
            reason=reason,
            organisation_id=getattr(organisation, "pk", None),
        )
    )
