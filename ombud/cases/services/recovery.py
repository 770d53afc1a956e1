"""The organisation's recovery kit (DESIGN §5): the private half of the
recovery key, split k-of-n among trustees the chair names (Shamir secret
sharing, ombud.lib.crypto). Every case key is also sealed to its public half
(Case.recovery_wrap), so with k shares entered together the chair can give
access to any case, including one nobody else can open any more; no one
person can (a team of one has a 1-of-1 kit). The kit never gives access to
someone the reporter excluded or who recused, and every use on a case is in
the case's timeline and the reporter's portal (ombud.cases.selectors).

Shares are never stored, logged or written to an audit event: services take
them, rebuild the key, use it and drop it; the audit log records which shares
(index and trustee) took part. Views pass them in from a POST marked
sensitive, so not even an error report carries them. A single-person kit from
before the split still works until it is re-issued (a rotation to a new key
split among trustees).

Key rotation re-wraps every case key in batches and can be interrupted at any
point: the new wrap goes to Case.recovery_wrap_next beside the old one, and
only when every case has one are they swapped, in one transaction under the
organisation lock (which a new report takes too). Until then the current kit
opens every case; afterwards the new one does. The new private key is derived
from the current one and a random salt kept on the organisation during the
rotation, so re-running with the current shares resumes with the same new key;
the trustees of the new kit are named when it starts and kept (RecoveryTrustee,
pending) until it completes, when the new key is split among them. The salt is
deleted when the rotation completes. (Trade-off, on purpose: whoever holds k
current shares and reads the database during a rotation could derive the new
key; they can open every case with the current shares anyway.)"""

from dataclasses import dataclass

import nacl.public
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from ombud.accounts.models import User
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.models import Case, PendingAccess, Status
from ombud.cases.services.grants import (
    SCOPE_ALL,
    SCOPE_CASE,
    SCOPE_EVENT,
    GrantResult,
    grants_write,
)
from ombud.lib import crypto
from ombud.lib.crypto import RecoveryKitError
from ombud.lib.errors import ServiceError
from ombud.orgs.models import Event, Organisation, RecoveryTrustee
from ombud.orgs.services import (
    TrusteeShare,
)

ROTATION_BATCH = 500
KIT_MAX_LENGTH = 3000  # SHARE_MAX shares of about 100 characters, with room to spare


def public_key_of(private_key: bytes) -> bytes:
    return bytes(nacl.public.PrivateKey(bytes(private_key)).public_key)


def chair_require(actor, organisation) -> None:
    if not actor.has_perm("orgs.use_recovery_kit", organisation):
        raise PermissionDenied


@dataclass(frozen=True)
class KitKey:
    """The recovery private key rebuilt from the shares entered, the shares
    (to print another trustee's share again) and which took part (indices;
    empty for a single-person kit from before the split)."""

    private_key: bytes
    entered: tuple[crypto.KitShare, ...]
    shares: tuple[int, ...]

    def __repr__(self):  # never the key or a share
        return f"KitKey(shares={self.shares})"


@sensitive_variables("kit_text", "private_key", "entries", "shares")
def kit_private_key(*, organisation: Organisation, kit_text: str) -> KitKey:
    """The private key of the organisation's current kit, rebuilt from the k
    shares in `kit_text` (or a single-person kit from before the split), or
    RecoveryKitError with a message a person can act on (never any of a share)."""
    if len(kit_text or "") > KIT_MAX_LENGTH:
        raise RecoveryKitError("This is not an Ombud recovery kit: it is far too long.")
    entries = crypto.recovery_kit_split_text(kit_text or "")
    if not entries:
        raise RecoveryKitError("Enter the trustees' shares.")
    if entries[0][0] == crypto.KIT_PREFIX:
        return _single_person_kit(organisation, entries)
    shares = [crypto.recovery_share_decode(words, org_id=organisation.pk) for words in entries]
    kit_id = crypto.recovery_kit_id(organisation.recovery_public_key)
    seen: set[int] = set()
    for share in shares:
        if share.kit_id != kit_id:
            raise RecoveryKitError(
                f"Share {share.index} is from a recovery kit that was replaced when the "
                "kit was re-issued; use the newest shares."
            )
        if share.index in seen:
            raise RecoveryKitError(
                f"Share {share.index} was entered twice: each trustee enters their own share."
            )
        seen.add(share.index)
    needed = organisation.recovery_threshold or 1
    if len(shares) < needed:
        entered = "1 was entered" if len(shares) == 1 else f"{len(shares)} were entered"
        raise RecoveryKitError(
            f"The recovery kit of {organisation} needs the shares of {needed} trustees, "
            f"entered together on this form; {entered}."
        )
    private_key = crypto.recovery_shares_combine(shares)
    if public_key_of(private_key) != bytes(organisation.recovery_public_key):
        raise RecoveryKitError(
            "These shares do not open the recovery key: check that each is the newest "
            "share of a different trustee."
        )
    return KitKey(private_key, tuple(shares), tuple(sorted(seen)))


@sensitive_variables("entries", "private_key")
def _single_person_kit(organisation: Organisation, entries) -> KitKey:
    if organisation.recovery_threshold is not None:
        raise RecoveryKitError(
            "This is a single-person recovery kit from before the kit was split among "
            "trustees; it was replaced. Enter the trustees' shares."
        )
    if len(entries) > 1:
        raise RecoveryKitError("Enter the recovery kit once, and nothing else.")
    private_key = crypto.recovery_kit_decode(" ".join(entries[0]), org_id=organisation.pk)
    if public_key_of(private_key) != bytes(organisation.recovery_public_key):
        raise RecoveryKitError(
            "This recovery kit was replaced by a newer one when the recovery key was "
            "rotated; use the newest kit."
        )
    return KitKey(private_key, (), ())


def kit_audit_data(*, organisation: Organisation, kit: KitKey) -> dict:
    """Which shares took part, and whose (never any of a share)."""
    holders = dict(
        RecoveryTrustee.objects.filter(
            organisation=organisation, pending=False, index__in=kit.shares
        ).values_list("index", "user_id")
    )
    return {"shares": list(kit.shares), "trustees": [holders.get(i) for i in kit.shares]}


@sensitive_variables("kit_text", "kit", "share")
def recovery_share_show(
    *, actor: User, organisation: Organisation, kit_text: str, index: int
) -> TrusteeShare:
    """Print a trustee's share again (a worn or lost paper): only with k
    shares entered together, which could open every case anyway."""
    chair_require(actor, organisation)
    kit = kit_private_key(organisation=organisation, kit_text=kit_text)
    if not kit.shares:
        raise ServiceError(
            "A single-person kit is not printed again: re-issue it split among trustees."
        )
    trustee = (
        RecoveryTrustee.objects.filter(organisation=organisation, pending=False, index=index)
        .select_related("user")
        .first()
    )
    if trustee is None:
        raise ServiceError("There is no such share of the current kit.")
    share = crypto.KitShare(
        organisation.pk,
        index,
        organisation.recovery_threshold or 1,
        crypto.recovery_kit_id(organisation.recovery_public_key),
        crypto.recovery_shares_combine(kit.entered, at=index),
    )
    with transaction.atomic():
        audit_log(
            organisation=organisation,
            type=AuditType.RECOVERY_KIT_SHOWN,
            actor=actor,
            data={**kit_audit_data(organisation=organisation, kit=kit), "printed": index},
        )
    return TrusteeShare(
        trustee.user,
        index,
        share.threshold,
        RecoveryTrustee.objects.filter(organisation=organisation, pending=False).count(),
        crypto.recovery_share_encode(share),
    )


def _kit_opener(private_key: bytes):
    @sensitive_variables("private_key")
    def open_key(case):
        try:
            return crypto.data_key_unseal(private_key, case.recovery_wrap)
        except crypto.DecryptionError:
            raise ServiceError(
                f"The recovery key does not open case #{case.number}; ask your administrator."
            ) from None

    return open_key


def kit_cases(
    *, organisation: Organisation, scope: str, number=None, event: Event | None = None
) -> list[Case]:
    cases = Case.objects.filter(organisation=organisation).select_related("organisation")
    if scope == SCOPE_CASE:
        cases = cases.filter(number=number)
        if number is None or not cases:
            raise ServiceError(f"There is no case #{number or ''} in {organisation}.")
    elif scope == SCOPE_EVENT:
        if event is None or event.organisation_id != organisation.pk:
            raise ServiceError("Choose an event.")
        cases = cases.filter(event=event).exclude(status=Status.CLOSED)
    elif scope != SCOPE_ALL:
        raise ServiceError("Choose which cases to give access to.")
    found = list(cases)
    if not found:
        raise ServiceError("There is no case to give access to.")
    return found


@sensitive_variables("kit_text", "kit")
def recovery_grant(
    *,
    actor: User,
    organisation: Organisation,
    kit_text: str,
    grantee: User,
    scope: str,
    number=None,
    event: Event | None = None,
) -> GrantResult:
    """The chair, with k trustees' shares, gives a member access to one case,
    the open cases of an event, or every case of the organisation. Never to
    someone the reporter excluded or who recused."""
    chair_require(actor, organisation)
    kit = kit_private_key(organisation=organisation, kit_text=kit_text)
    cases = kit_cases(organisation=organisation, scope=scope, number=number, event=event)
    return grants_write(
        actor=actor,
        organisation=organisation,
        grantee=grantee,
        cases=cases,
        open_key=_kit_opener(kit.private_key),
        strict=scope == SCOPE_CASE,
        refuse_recused=True,
        audit_type=AuditType.ACCESS_RESTORED_WITH_KIT,
        audit_data={"scope": scope, **kit_audit_data(organisation=organisation, kit=kit)},
    )


@sensitive_variables("kit_text", "kit")
def recovery_restore_pending(
    *, actor: User, organisation: Organisation, kit_text: str, pending
) -> list:
    """Settle pending access rows (members who reset their password) with the
    kit, all in one transaction. Returns [(member, GrantResult)]."""
    chair_require(actor, organisation)
    kit = kit_private_key(organisation=organisation, kit_text=kit_text)
    audit_data = {"scope": "pending", **kit_audit_data(organisation=organisation, kit=kit)}
    rows = list(
        PendingAccess.objects.filter(
            pk__in=[p.pk for p in pending], case__organisation=organisation
        ).select_related("case", "case__organisation", "user")
    )
    if not rows:
        raise ServiceError("Choose at least one pending request.")
    by_user: dict = {}
    for row in rows:
        by_user.setdefault(row.user, []).append(row.case)
    results = []
    with transaction.atomic():
        for user, cases in by_user.items():
            results.append(
                (
                    user,
                    grants_write(
                        actor=actor,
                        organisation=organisation,
                        grantee=user,
                        cases=cases,
                        open_key=_kit_opener(kit.private_key),
                        strict=True,
                        refuse_recused=True,
                        audit_type=AuditType.ACCESS_RESTORED_WITH_KIT,
                        audit_data=audit_data,
                    ),
                )
            )
    return results
