"""What intake needs beyond the case itself: which mail was already taken in,
and staff intake drafts. (A case's mail identity, its thread references
included, belongs to the case: ombud.cases.models.MailThreadRef.)"""

import uuid

from django.conf import settings
from django.db import models


class InboundMail(models.Model):
    """One row per mail taken in, so the same Message-ID never makes two cases
    (a poller killed after the commit and before the delete fetches it again).
    Found by a keyed hash of the Message-ID (of the raw bytes without one)."""

    class Outcome(models.TextChoices):
        CASE = "case", "New case"
        MESSAGE = "message", "Message on a case"
        IGNORED = "ignored", "Ignored (auto-reply, bounce or loop)"
        REJECTED = "rejected", "Rejected"

    organisation = models.ForeignKey("orgs.Organisation", null=True, on_delete=models.CASCADE)
    lookup = models.BinaryField(max_length=32)
    case = models.ForeignKey("cases.Case", null=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "lookup"], name="inbound_mail_once")
        ]

    def __str__(self):
        return f"Inbound mail {self.pk} ({self.outcome})"


class IntakeDraft(models.Model):
    """An in-person report being written down by a responder, saved in parts.
    The content is sealed to the author's public key: only they can open it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey("orgs.Organisation", on_delete=models.CASCADE)
    event = models.ForeignKey("orgs.Event", on_delete=models.CASCADE)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    box = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self):
        return f"Intake draft {self.pk}"


class FormToken(models.Model):
    """A report form that was sent (public or staff intake): a keyed hash of
    the random token the form carried, so the same form sent again makes no
    second case. Forgotten after FORM_TOKEN_DAYS (ombud.intake.housekeeping)."""

    lookup = models.BinaryField(max_length=32, unique=True)
    case = models.ForeignKey("cases.Case", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Form token {self.pk}"
