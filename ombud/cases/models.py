"""Cases hold only plaintext metadata; everything a reporter wrote lives in
encrypted blobs that only a Grant (or the receipt, or the recovery kit) opens."""

import uuid

from django.conf import settings
from django.db import models


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
    # The receipt: an HMAC for lookup, and the case key under an HKDF of it.
    receipt_lookup = models.BinaryField(max_length=32, null=True, unique=True)
    receipt_salt = models.BinaryField(max_length=16, null=True)
    receipt_wrap = models.BinaryField(null=True)
    # Reporters who left an email can ask for a new receipt: found by a keyed
    # hash of the address, the case key wrapped under a key derived from it.
    reporter_email_lookup = models.BinaryField(max_length=32, null=True, db_index=True)
    reporter_email_salt = models.BinaryField(max_length=16, null=True)
    reporter_email_wrap = models.BinaryField(null=True)
    followup_due_at = models.DateTimeField(null=True)
    followed_up_at = models.DateTimeField(null=True)

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
    def reporter_status(self) -> str:
        """The case status in the words a reporter sees."""
        return REPORTER_STATUS.get(self.status, "the team is reviewing it")


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
    under the case key like the report itself."""

    class Direction(models.TextChoices):
        FROM_REPORTER = "from_reporter", "From the reporter"
        TO_REPORTER = "to_reporter", "To the reporter"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=20, choices=Direction.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_followup = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    body = models.BinaryField()

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.get_direction_display()} on case {self.case.number}"

    @property
    def body_field(self) -> str:
        return f"message/{self.id}/body"


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
