from django.conf import settings
from django.db import models


class PushChannel(models.Model):
    """Where a responder wants to be paged besides email: an Apprise URL
    (ntfy, Signal, Matrix, Telegram, SMS gateways, ...). URLs carry tokens, so
    they are stored sealed under a pepper-derived key."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_channels"
    )
    label = models.CharField(max_length=100)
    url_box = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "accounts_pushchannel"  # moved here from accounts; the table kept its name

    def __str__(self):
        return self.label


class OutboxMessage(models.Model):
    """An email or push waiting to be sent. The payload (address, subject,
    text) is sealed under a pepper-derived key, so a database copy holds no
    addresses or message text; the row is deleted once delivered.

    Only plaintext metadata sits beside it: what kind of message, what it is
    about (`topic`), how delivery went, and for notifications about a case
    the case and the responder, so delivery can re-check the grant at the last
    moment: a responder who recused after a page was queued never gets it."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        PUSH = "push", "Push"

    class Topic(models.TextChoices):
        PAGE = "page", "Urgent page"
        ESCALATION = "escalation", "Escalation page"
        NEW_REPORT = "new_report", "New report"
        REPORTER_WROTE = "reporter_wrote", "Reporter wrote"
        MEETING_REMINDER = "meeting_reminder", "Meeting reminder"
        TO_REPORTER = "to_reporter", "Email to a reporter"
        TEST = "test", "Test push"
        OTHER = "other", "Other"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.EMAIL)
    topic = models.CharField(max_length=20, choices=Topic.choices, default=Topic.OTHER)
    # Null for personal messages (a responder's test push).
    organisation = models.ForeignKey("orgs.Organisation", null=True, on_delete=models.CASCADE)
    case = models.ForeignKey("cases.Case", null=True, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+"
    )
    # Push only: the channel whose (sealed) URL receives it. Removing the
    # channel removes what is still queued for it.
    channel = models.ForeignKey(PushChannel, null=True, on_delete=models.CASCADE, related_name="+")
    payload = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    # The exception class name only: transport errors can quote addresses.
    last_error = models.CharField(max_length=200, blank=True)
    # When the next delivery task runs; null once delivery has given up.
    next_attempt_at = models.DateTimeField(null=True)
    # A delivery in progress holds the row until then, so two runs of the
    # task never send the same message at the same time.
    claimed_until = models.DateTimeField(null=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"Outbox {self.kind} {self.pk} ({self.attempts} attempts)"

    @property
    def gave_up(self) -> bool:
        return self.attempts > 0 and self.next_attempt_at is None
