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

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "number"], name="case_number_unique")
        ]
        ordering = ["-created_at"]

    def __str__(self):
        return f"Case {self.number}"


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
