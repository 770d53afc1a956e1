"""The audit chain becomes an HMAC chain under a key from the pepper.

Each organisation's existing (unkeyed SHA-256) chain is verified first, then
every event is hashed again with the key, in order, and one event is added
that records the change and what the old chain's verification found: a chain
that was already broken stays on record as such, under the key. Gaps in the
numbering are kept, so `audit_verify` still reports them. The formulas are
written out here so that this migration does not change when the model does."""

import hashlib
import hmac
import json

from django.db import migrations, models
from django.utils import timezone

from ombud.lib.crypto import pepper_key

GENESIS = "0" * 64
AUDIT_CHAIN_KEYED = 251  # ombud.audit.types.AuditType.AUDIT_CHAIN_KEYED
BATCH = 1000


def _body(event) -> bytes:
    return json.dumps(
        {
            "org": event.organisation_id,
            "seq": event.seq,
            "type": int(event.type),
            "actor": event.actor_id,
            "case": str(event.case_id) if event.case_id else None,
            "data": event.data,
            "at": event.created_at.isoformat(),
            "prev": event.prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def _unkeyed(event) -> str:
    return hashlib.sha256(_body(event)).hexdigest()


def _keyed(event, key: bytes) -> str:
    return hmac.new(key, _body(event), hashlib.sha256).hexdigest()


def _old_chain_problems(events, head) -> list[str]:
    problems, prev_hash, expected_seq = [], GENESIS, 1
    for event in events.iterator(chunk_size=BATCH):
        if event.seq != expected_seq:
            problems.append(f"event {expected_seq} is missing (found {event.seq})")
        if event.prev_hash != prev_hash:
            problems.append(f"event {event.seq} does not link to the event before it")
        if _unkeyed(event) != event.hash:
            problems.append(f"event {event.seq} was altered after it was written")
        prev_hash, expected_seq = event.hash, event.seq + 1
    head_seq, head_hash = (head.seq, head.hash) if head else (0, "")
    if head_seq != expected_seq - 1:
        problems.append(f"the log ends at event {expected_seq - 1}, but {head_seq} were written")
    elif head_seq and head_hash != prev_hash:
        problems.append(f"event {head_seq} is not the event that was written last")
    return problems


def _rehash(AuditEvent, org_id, rehash) -> tuple[int, str]:
    """Link and hash an organisation's events again, in order, a batch at a
    time; returns the last seq and hash."""
    events = AuditEvent.objects.filter(organisation_id=org_id).order_by("seq")
    prev_hash, last_seq = GENESIS, 0
    while batch := list(events.filter(seq__gt=last_seq)[:BATCH]):
        for event in batch:
            event.prev_hash = prev_hash
            event.hash = prev_hash = rehash(event)
        AuditEvent.objects.bulk_update(batch, ["prev_hash", "hash"])
        last_seq = batch[-1].seq
    return last_seq, prev_hash


def chain_rekey(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditHead = apps.get_model("audit", "AuditHead")
    key = pepper_key("audit-chain")
    org_ids = AuditEvent.objects.order_by().values_list("organisation_id", flat=True).distinct()
    for org_id in sorted(set(org_ids)):
        events = AuditEvent.objects.filter(organisation_id=org_id).order_by("seq")
        head = AuditHead.objects.filter(organisation_id=org_id).first()
        problems = _old_chain_problems(events, head)
        last_seq, prev_hash = _rehash(AuditEvent, org_id, lambda event: _keyed(event, key))
        keyed = AuditEvent(
            organisation_id=org_id,
            seq=last_seq + 1,
            type=AUDIT_CHAIN_KEYED,
            data={"unkeyed_chain_intact": not problems, "unkeyed_chain_problems": problems[:50]},
            created_at=timezone.now(),
            prev_hash=prev_hash,
        )
        keyed.hash = _keyed(keyed, key)
        keyed.save(force_insert=True)
        AuditHead.objects.update_or_create(
            organisation_id=org_id, defaults={"seq": keyed.seq, "hash": keyed.hash}
        )
        if problems:
            print(  # the operator running migrate must see this
                f"\n  audit chain of organisation {org_id} was broken before it was keyed "
                f"({len(problems)} problem(s), recorded in event {keyed.seq})"
            )


def chain_unkey(apps, schema_editor):
    """Back to the unkeyed chain (the events recording the change stay)."""
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditHead = apps.get_model("audit", "AuditHead")
    org_ids = AuditEvent.objects.order_by().values_list("organisation_id", flat=True).distinct()
    for org_id in sorted(set(org_ids)):
        last_seq, last_hash = _rehash(AuditEvent, org_id, _unkeyed)
        AuditHead.objects.filter(organisation_id=org_id).update(seq=last_seq, hash=last_hash)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_audithead"),
    ]

    operations = [
        migrations.AddField(
            model_name="audithead",
            name="mailed_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="audithead",
            name="mailed_seq",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.RunPython(chain_rekey, chain_unkey),
    ]
