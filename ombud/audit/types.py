"""The registry of audit event types. A number is never reused or renumbered:
retire a type by leaving it here with a comment."""

from django.db import models


class AuditType(models.IntegerChoices):
    ORGANISATION_CREATED = 1, "organisation created"
    EVENT_CREATED = 2, "event created"
    EVENT_UPDATED = 3, "event updated"
    MEMBER_ADDED = 10, "team member added"
    MEMBER_ROLE_CHANGED = 11, "team member role changed"
    CASE_SUBMITTED = 100, "report submitted"
    CASE_CONTENT_READ = 101, "report content read"
    CASE_RECUSED = 102, "responder recused"
    MESSAGE_TO_REPORTER = 110, "message sent to reporter"
    MESSAGE_FROM_REPORTER = 111, "message from reporter"
    SUBMISSION_ADDED = 112, "reporter added to the report"
    CONSENT_CHANGED = 113, "reporter changed consent"
    PORTAL_OPENED = 120, "reporter opened the case with the receipt"
    RECEIPT_RENEWAL_REQUESTED = 121, "new receipt requested by email"
    RECEIPT_RENEWED = 122, "new receipt issued"
