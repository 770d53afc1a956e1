"""Cases hold only plaintext metadata; everything a reporter wrote lives in
encrypted blobs that only a Grant (or the receipt, or the recovery kit) opens."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Status(models.TextChoices):
    NEW = "new", "New"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    TRIAGED = "triaged", "Triaged"
    DECIDED = "decided", "Decided"
    FOLLOWED_UP = "followed_up", "Reporter followed up"
    CLOSED = "closed", "Closed"
    REOPENED = "reopened", "Reopened"
    APPEALED = "appealed", "Appealed"


REPORTER_STATUS = {
    Status.NEW: "received",
    Status.DECIDED: "the team has decided",
    Status.FOLLOWED_UP: "the team has decided",
    Status.CLOSED: "closed",
}


# Which status may follow which; anything else is refused with a message.
TRANSITIONS = {
    # An ongoing incident may be decided at once, without a meeting.
    Status.NEW: {Status.ACKNOWLEDGED, Status.TRIAGED, Status.DECIDED, Status.CLOSED},
    Status.ACKNOWLEDGED: {Status.TRIAGED, Status.DECIDED, Status.CLOSED},
    Status.TRIAGED: {Status.DECIDED, Status.CLOSED},
    Status.DECIDED: {Status.FOLLOWED_UP, Status.CLOSED, Status.APPEALED},
    Status.FOLLOWED_UP: {Status.CLOSED, Status.APPEALED},
    Status.CLOSED: {Status.REOPENED, Status.APPEALED},
    Status.REOPENED: {Status.ACKNOWLEDGED, Status.TRIAGED, Status.DECIDED, Status.CLOSED},
    Status.APPEALED: {Status.DECIDED, Status.CLOSED},
}


class Channel(models.TextChoices):
    WEB = "web", "Web form"
    IN_PERSON = "in_person", "In person"
    EMAIL = "email", "Email"


class Case(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT)
    event = models.ForeignKey("orgs.Event", on_delete=models.PROTECT)
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    urgent = models.BooleanField(default=False, help_text="The reporter says it is ongoing.")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    reporter_contact_available = models.BooleanField(default=False)
    # The case key sealed to the organisation's recovery public key.
    recovery_wrap = models.BinaryField()
    # During a recovery key rotation: the case key sealed to the new recovery
    # public key; swapped into recovery_wrap when every case has one.
    recovery_wrap_next = models.BinaryField(null=True)
    # The receipt: an HMAC for lookup, and the case key sealed to the key pair
    # the receipt derives with this salt (ombud.lib.crypto.receipt_unwrap).
    receipt_lookup = models.BinaryField(max_length=32, null=True, unique=True)
    receipt_salt = models.BinaryField(max_length=16, null=True)
    receipt_wrap = models.BinaryField(null=True)
    # A new receipt shown to a reporter who lost theirs: it waits here, as its
    # lookup, salt and public key, until someone who holds the case opens it;
    # their session seals the case key to it and it replaces the receipt
    # (ombud.cases.services.receipts). Nothing else can make it work.
    receipt_pending_lookup = models.BinaryField(max_length=32, null=True, unique=True)
    receipt_pending_salt = models.BinaryField(max_length=16, null=True)
    receipt_pending_public_key = models.BinaryField(max_length=32, null=True)
    # Reporters who left an email can ask for a new receipt: the case is found
    # by a keyed hash of the address. Nothing derived from it opens anything.
    reporter_email_lookup = models.BinaryField(max_length=32, null=True, db_index=True)
    followup_due_at = models.DateTimeField(null=True)
    followed_up_at = models.DateTimeField(null=True)
    # The workflow (DESIGN §3, §4).
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Paging rounds sent for an urgent case; the escalation task for round N
    # acts only while the case is still at round N, so it fires exactly once.
    page_round = models.PositiveSmallIntegerField(default=0)
    # The incident location for pages, only when the organisation allows it;
    # sealed under a pepper-derived key because tasks have no case key.
    page_location_box = models.BinaryField(null=True)
    meeting_due_at = models.DateTimeField(null=True)
    meeting_reminders_sent = models.PositiveSmallIntegerField(default=0)
    retaliation_concern = models.BooleanField(default=False)
    law_enforcement_requested_at = models.DateTimeField(null=True)
    # The case inbox (ombud.lib.crypto.inbox_seal): mail answering the case is
    # sealed to the public half; the private half is under the case key.
    inbox_public_key = models.BinaryField(max_length=32, null=True)
    inbox_private_box = models.BinaryField(null=True)
    # The secret tag in the subject and reply address of mail about this case
    # (DESIGN §8): a keyed hash to find it, and the tag sealed under a pepper
    # key so outgoing mail can carry it. Never the guessable case number.
    mail_tag_lookup = models.BinaryField(max_length=32, null=True, unique=True)
    mail_tag_box = models.BinaryField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "number"], name="case_number_unique")
        ]
        ordering = ["-created_at"]

    def __str__(self):
        return f"Case {self.number}"

    @property
    def reporter_reachable(self) -> bool:
        """Someone can receive the follow-up: by receipt or by contact details."""
        return self.receipt_lookup is not None or self.reporter_contact_available

    @property
    def followup_overdue(self) -> bool:
        from django.utils import timezone

        return (
            self.reporter_reachable
            and self.followed_up_at is None
            and self.followup_due_at is not None
            and self.followup_due_at < timezone.now()
        )

    @property
    def meeting_pending(self) -> bool:
        return self.meeting_due_at is not None and self.status in (
            Status.NEW,
            Status.ACKNOWLEDGED,
            Status.REOPENED,
        )

    @property
    def meeting_overdue(self) -> bool:
        return (
            self.meeting_pending
            and self.meeting_due_at is not None
            and self.meeting_due_at < timezone.now()
        )

    @property
    def unacknowledged_urgent(self) -> bool:
        return self.urgent and self.acknowledged_at is None

    @property
    def reporter_status(self) -> str:
        """The case status in the words a reporter sees."""
        return REPORTER_STATUS.get(Status(self.status), "the team is reviewing it")


class Submission(models.Model):
    """The reporter's account (the original report, later additions)."""

    class Kind(models.TextChoices):
        REPORT = "report", "Original report"
        ADDITION = "addition", "Addition"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="submissions")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.REPORT)
    created_at = models.DateTimeField(auto_now_add=True)
    content = models.BinaryField()

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} of case {self.case.number}"

    @property
    def content_field(self) -> str:
        return f"submission/{self.id}/content"


class Grant(models.Model):
    """Access to a case: the case key sealed to one responder. No row, no access."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grants"
    )
    wrapped_key = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "user"], name="grant_unique")]

    def __str__(self):
        return f"{self.user} holds case {self.case.number}"


class Exclusion(models.Model):
    """A responder kept out of a case: named by the reporter, or self-recused.
    Visible to the team (who, not why); blocks any new grant for that person."""

    class Reason(models.TextChoices):
        EXCLUDED = "excluded", "Excluded by the reporter"
        RECUSED = "recused", "Recused"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="exclusions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exclusions"
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "user"], name="exclusion_unique")]

    def __str__(self):
        return f"{self.user} {self.get_reason_display().lower()} from case {self.case.number}"


class Message(models.Model):
    """One message in the thread with the reporter. The body is encrypted
    under the case key like the report itself; only mail from the reporter,
    which arrives when nobody holds the key, is sealed to the case inbox
    instead (`arrived_by_mail`)."""

    class Direction(models.TextChoices):
        FROM_REPORTER = "from_reporter", "From the reporter"
        TO_REPORTER = "to_reporter", "To the reporter"

    class Via(models.TextChoices):
        WEB = "web", "On the web"  # the portal or the staff pages: under the case key
        EMAIL = "email", "By email"  # mail from the reporter: sealed to the case inbox

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=20, choices=Direction.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_followup = models.BooleanField(default=False)
    # Set when the message is made, never changed.
    via = models.CharField(max_length=10, choices=Via.choices, default=Via.WEB)
    created_at = models.DateTimeField(auto_now_add=True)
    body = models.BinaryField()

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.get_direction_display()} on case {self.case.number}"

    @property
    def body_field(self) -> str:
        return f"message/{self.id}/body"

    @property
    def arrived_by_mail(self) -> bool:
        """Mail from the reporter, written without any key: the only message
        (with its files) whose content may be sealed to the case inbox, whose
        public key anyone can read. A row claiming so says "the reporter, by
        email", which anyone who can send mail can make it say anyway; every
        other message opens under the case key or not at all."""
        return self.direction == self.Direction.FROM_REPORTER and self.via == self.Via.EMAIL


class PublicStatementConsent(models.TextChoices):
    NO = "no", "Not at all"
    ANONYMOUS = "anonymous", "Anonymously"
    NAMED = "named", "With my name"


class ConsentRecord(models.Model):
    """The reporter's consent, as given at submission and as changed later.
    Each change is a new row, so the history and its dates are kept; the
    newest row is in force."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="consents")
    may_contact = models.BooleanField()
    public_statement = models.CharField(max_length=20, choices=PublicStatementConsent.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        get_latest_by = ["created_at", "pk"]

    def __str__(self):
        return f"Consent on case {self.case.number} from {self.created_at:%Y-%m-%d}"


class Note(models.Model):
    """Internal responder writing: a note, or the record of the team meeting
    (its sections as JSON). Encrypted under the case key."""

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        MEETING = "meeting", "Meeting record"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.NOTE)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    content = models.BinaryField()

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} on case {self.case.number}"

    @property
    def content_field(self) -> str:
        return f"note/{self.id}/content"


class Decision(models.Model):
    """What the team decided. A decision choosing a response at or above the
    organisation's two-person severity stays `proposed` until a second
    responder agrees."""

    class Violation(models.TextChoices):
        YES = "yes", "Yes, a violation"
        NO = "no", "No violation"
        UNDETERMINED = "undetermined", "Could not be determined"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="decisions")
    violation = models.CharField(max_length=20, choices=Violation.choices)
    rationale = models.BinaryField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_final = models.BooleanField(default=False)
    is_appeal_outcome = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"Decision on case {self.case.number}: {self.get_violation_display()}"

    @property
    def rationale_field(self) -> str:
        return f"decision/{self.id}/rationale"


class DecisionResponse(models.Model):
    """One response from the catalog chosen in a decision, with who does it."""

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="responses")
    response_type = models.ForeignKey("orgs.ResponseType", on_delete=models.PROTECT)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_at = models.DateTimeField(null=True)

    def __str__(self):
        return str(self.response_type)


class Appeal(models.Model):
    """An appeal of a decision by the reported person. Only responders who
    took no part in the decision review it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="appeals")
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="appeals")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    statement = models.BinaryField()
    outcome = models.ForeignKey(
        Decision, null=True, on_delete=models.SET_NULL, related_name="appeal_outcome_of"
    )

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"Appeal on case {self.case.number}"

    @property
    def statement_field(self) -> str:
        return f"appeal/{self.id}/statement"


class PendingAccess(models.Model):
    """A case a responder could read before they lost their key (password reset).
    The old wrap is useless to them now; someone who holds the case, or the chair
    with the recovery kit, restores access by granting it again."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="pending_access")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_access"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "user"], name="pending_access_unique")
        ]

    def __str__(self):
        return f"{self.user} waits for access to case {self.case.number}"


class ReportedPersonMessage(models.Model):
    """A message to the reported person, kept apart from the reporter's thread
    (the reporter's portal never shows it). With a retaliation or safety
    concern on the case it waits for a second responder's approval."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reported_messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True)
    content = models.BinaryField()  # {"to": address, "body": text}, encrypted

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"Message to the reported person on case {self.case.number}"

    @property
    def content_field(self) -> str:
        return f"reported-message/{self.id}/content"


class Attachment(models.Model):
    """A photo, screenshot or PDF from the web form, staff intake or email.
    The name and the content are encrypted like every other field (under the
    case key, or sealed to the case inbox when it came with mail from the
    reporter: `arrived_by_mail`); the type is
    the one detected from the content, never the one the sender claimed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    submission = models.ForeignKey(
        Submission, null=True, on_delete=models.CASCADE, related_name="attachments"
    )
    message = models.ForeignKey(
        Message, null=True, on_delete=models.CASCADE, related_name="attachments"
    )
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    name = models.BinaryField()
    content = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"Attachment {self.pk}"

    @property
    def arrived_by_mail(self) -> bool:
        """A file of mail from the reporter (Message.arrived_by_mail)."""
        return self.message is not None and self.message.arrived_by_mail

    @property
    def name_field(self) -> str:
        return f"attachment:{self.pk}:name"

    @property
    def content_field(self) -> str:
        return f"attachment:{self.pk}:content"


class MailThreadRef(models.Model):
    """A Message-ID of mail we sent about a case (keyed hash): a reply naming it
    in In-Reply-To or References belongs to that case."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    lookup = models.BinaryField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "intake_mailthreadref"  # moved here from intake; the table kept its name

    def __str__(self):
        return f"Thread reference for case {self.case_id}"
