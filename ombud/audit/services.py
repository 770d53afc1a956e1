import hmac
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ombud.audit.models import GENESIS, AuditEvent, AuditHead, chain_key
from ombud.audit.types import AuditType


def audit_log(*, organisation, type: AuditType, actor=None, case=None, data=None) -> AuditEvent:
    """Append one event to the organisation's chain. Call inside the service's
    transaction: the chain's head row is locked so two writers cannot fork the
    chain, and the event commits or rolls back with the change it records."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_log must run inside the service's transaction")
    if AuditHead.objects.select_for_update().filter(pk=organisation.pk).first() is None:
        AuditHead.objects.get_or_create(organisation_id=organisation.pk)  # the first event
        AuditHead.objects.select_for_update().get(pk=organisation.pk)
    last = (
        AuditEvent.objects.filter(organisation=organisation)
        .order_by("-seq")
        .values_list("seq", "hash")
        .first()
    )
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    event = AuditEvent(
        organisation=organisation,
        seq=seq,
        type=type,
        actor_id=getattr(actor, "pk", None),
        case_id=getattr(case, "pk", None),
        data=data or {},
        created_at=timezone.now(),
        prev_hash=prev_hash,
    )
    event.hash = event.compute_hash()
    event.save(force_insert=True)
    AuditHead.objects.filter(pk=organisation.pk).update(seq=event.seq, hash=event.hash)
    return event


@dataclass(frozen=True)
class ChainHead:
    """An event of a chain by its number and hash: the newest one, as a chair
    keeps it outside the database (`manage.py audit_verify --head`)."""

    seq: int
    hash: str

    def __str__(self):
        return f"{self.seq}:{self.hash}"


def audit_head(*, organisation) -> ChainHead:
    """The newest event of the organisation's chain (seq 0 before the first)."""
    seq, digest = AuditHead.objects.filter(pk=organisation.pk).values_list(
        "seq", "hash"
    ).first() or (0, "")
    return ChainHead(seq, digest)


def audit_verify(*, organisation, expect: ChainHead | None = None) -> list[str]:
    """Return the problems found in one organisation's chain (empty = intact).
    With `expect`, a head kept outside the database, the chain must still hold
    that event with that hash: events cut from the end, or a chain hashed
    again by someone who has the pepper, are noticed too."""
    problems = []
    key = chain_key()
    prev_hash, expected_seq = GENESIS, 1
    expected_found = None
    for event in AuditEvent.objects.filter(organisation=organisation).order_by("seq").iterator():
        if event.seq != expected_seq:
            problems.append(f"event {expected_seq} is missing (found {event.seq})")
        if event.prev_hash != prev_hash:
            problems.append(f"event {event.seq} does not link to the event before it")
        if not hmac.compare_digest(event.compute_hash(key), event.hash):
            problems.append(f"event {event.seq} was altered after it was written")
        if expect is not None and event.seq == expect.seq:
            expected_found = event.hash
        prev_hash, expected_seq = event.hash, event.seq + 1
    head = audit_head(organisation=organisation)
    last_seq = expected_seq - 1
    if head.seq != last_seq:
        problems.append(f"the log ends at event {last_seq}, but {head.seq} events were written")
    elif last_seq and head.hash != prev_hash:
        problems.append(f"event {last_seq} is not the event that was written last")
    if expect is not None:
        if expected_found is None:
            problems.append(
                f"event {expect.seq} of the head you gave is not in the log: events were cut"
            )
        elif not hmac.compare_digest(expected_found, expect.hash):
            problems.append(
                f"event {expect.seq} is not the one of the head you gave: the log was rewritten"
            )
    return problems
