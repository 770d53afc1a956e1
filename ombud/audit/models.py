import hashlib
import hmac
import json

from django.db import models

from ombud.audit.types import AuditType
from ombud.lib import crypto

GENESIS = "0" * 64


def chain_key() -> bytes:
    """The chain's HMAC key, from the pepper (never in the database): whoever
    can only write to the database cannot hash a changed chain again."""
    return crypto.pepper_key("audit-chain")


class AuditEvent(models.Model):
    """Append-only, hash-chained per organisation (HMAC-SHA256 under
    `chain_key`). Holds no report content.

    Actor and case are plain ids, not foreign keys: the chain must stay
    verifiable after a user leaves or a case is shredded."""

    organisation = models.ForeignKey("orgs.Organisation", on_delete=models.PROTECT)
    seq = models.PositiveBigIntegerField()
    # No `choices`: new types are added to the registry without a migration.
    type = models.PositiveIntegerField()
    actor_id = models.BigIntegerField(null=True)
    case_id = models.UUIDField(null=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "seq"], name="audit_seq_unique")
        ]
        ordering = ["organisation_id", "seq"]

    def __str__(self):
        return f"#{self.seq} {self.type_label}"

    @property
    def type_label(self) -> str:
        try:
            return AuditType(self.type).label
        except ValueError:
            return f"type {self.type}"

    def chain_body(self) -> bytes:
        """What the chain's hash covers: the event's fields and the hash before it."""
        return json.dumps(
            {
                "org": self.organisation_id,
                "seq": self.seq,
                "type": int(self.type),
                "actor": self.actor_id,
                "case": str(self.case_id) if self.case_id else None,
                "data": self.data,
                "at": self.created_at.isoformat(),
                "prev": self.prev_hash,
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()

    def compute_hash(self, key: bytes | None = None) -> str:
        """The event's HMAC over `chain_body()`; `key` is `chain_key()`, given
        by callers that hash many events."""
        return hmac.new(key or chain_key(), self.chain_body(), hashlib.sha256).hexdigest()


class AuditHead(models.Model):
    """The newest event of an organisation's chain, kept apart from the events
    so a chain cut short at its end is noticed too. Its row is also the lock
    that keeps two writers from forking the chain."""

    organisation = models.OneToOneField(
        "orgs.Organisation", on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, blank=True)
    # The head last emailed to the chairs (ombud.orgs.housekeeping).
    mailed_seq = models.PositiveBigIntegerField(default=0)
    mailed_at = models.DateTimeField(null=True)

    def __str__(self):
        return f"Audit head #{self.seq}"
