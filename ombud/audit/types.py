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
    CASE_EXCLUDED = 103, "responder excluded by reporter"
