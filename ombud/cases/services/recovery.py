"""The organisation's recovery kit (DESIGN §5): the private half of the
recovery key, held offline by the chair. Every case key is also sealed to its
public half (Case.recovery_wrap), so with the kit the chair can give access to
any case, including one nobody else can open any more.

The kit text is never stored, logged or written to an audit event: services
take it, decode it, use the key and drop it. Views pass it in from a POST
marked sensitive, so not even an error report carries it.

Key rotation re-wraps every case key in batches and can be interrupted at any
point: the new wrap goes to Case.recovery_wrap_next beside the old one, and
only when every case has one are they swapped, in one transaction under the
organisation lock (which a new report takes too). Until then the current kit
opens every case; afterwards the new one does. The new private key is derived
from the current one and a random salt kept on the organisation during the
rotation, so re-running with the current kit resumes with the same new key.
The salt is deleted when the rotation completes. (Trade-off, on purpose:
someone who holds the current kit and reads the database during a rotation
could derive the new kit; they can open every case with the current kit
anyway.)"""

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import nacl.public
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
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
from ombud.orgs.models import Event, Organisation

ROTATION_BATCH = 500
KIT_MAX_LENGTH = 400


def _public_key(private_key: bytes) -> bytes:
    return bytes(nacl.public.PrivateKey(bytes(private_key)).public_key)


def _require_chair(actor, organisation) -> None:
    if not actor.has_perm("orgs.use_recovery_kit", organisation):
        raise PermissionDenied


@sensitive_variables("kit_text", "private_key")
def kit_private_key(*, organisation: Organisation, kit_text: str) -> bytes:
    """The private key in the organisation's current kit, or RecoveryKitError
    with a message a person can act on (never any of the kit)."""
    if len(kit_text or "") > KIT_MAX_LENGTH:
        raise RecoveryKitError("This is not an Ombud recovery kit: it is far too long.")
    private_key = crypto.recovery_kit_decode(kit_text or "", org_id=organisation.pk)
    if _public_key(private_key) != bytes(organisation.recovery_public_key):
        raise RecoveryKitError(
            "This recovery kit was replaced by a newer one when the recovery key was "
            "rotated; use the newest kit."
        )
    return private_key


@sensitive_variables("kit_text", "private_key")
def recovery_kit_show(*, actor: User, organisation: Organisation, kit_text: str) -> str:
    """Download the kit again: only by entering it (proof of possession). Returns
    the kit in its printed form (normalised spacing and case)."""
    _require_chair(actor, organisation)
    private_key = kit_private_key(organisation=organisation, kit_text=kit_text)
    with transaction.atomic():
        audit_log(organisation=organisation, type=AuditType.RECOVERY_KIT_SHOWN, actor=actor)
    return crypto.recovery_kit_encode(organisation.pk, private_key)


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


@sensitive_variables("kit_text", "private_key")
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
    """The chair, with the kit, gives a member access to one case, the open
    cases of an event, or every case of the organisation."""
    _require_chair(actor, organisation)
    private_key = kit_private_key(organisation=organisation, kit_text=kit_text)
    cases = kit_cases(organisation=organisation, scope=scope, number=number, event=event)
    return grants_write(
        actor=actor,
        organisation=organisation,
        grantee=grantee,
        cases=cases,
        open_key=_kit_opener(private_key),
        strict=scope == SCOPE_CASE,
        audit_type=AuditType.ACCESS_RESTORED_WITH_KIT,
        audit_data={"scope": scope},
    )


@sensitive_variables("kit_text", "private_key")
def recovery_restore_pending(
    *, actor: User, organisation: Organisation, kit_text: str, pending
) -> list:
    """Settle pending access rows (members who reset their password) with the
    kit, all in one transaction. Returns [(member, GrantResult)]."""
    _require_chair(actor, organisation)
    private_key = kit_private_key(organisation=organisation, kit_text=kit_text)
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
                        open_key=_kit_opener(private_key),
                        strict=True,
                        audit_type=AuditType.ACCESS_RESTORED_WITH_KIT,
                        audit_data={"scope": "pending"},
                    ),
                )
            )
    return results


# --- rotation ------------------------------------------------------------------


@dataclass
class Rotation:
    done: int  # cases already wrapped for the new key
    total: int
    in_progress: bool
    new_kit: str | None = None  # only when this call completed the rotation

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.done * 100 // self.total


def rotation_status(*, organisation: Organisation) -> Rotation:
    organisation = Organisation.objects.get(pk=organisation.pk)
    cases = Case.objects.filter(organisation=organisation)
    in_progress = organisation.recovery_rotation_salt is not None
    return Rotation(
        done=cases.filter(recovery_wrap_next__isnull=False).count() if in_progress else 0,
        total=cases.count(),
        in_progress=in_progress,
    )


@sensitive_variables("old_private_key", "salt")
def _derive_next(old_private_key: bytes, salt: bytes) -> bytes:
    # Any 32 bytes are an X25519 private key (it is clamped on use).
    return HKDF(
        algorithm=hashes.SHA256(),
        length=crypto.KEY_BYTES,
        salt=bytes(salt),
        info=b"ombud:recovery-rotation",
    ).derive(bytes(old_private_key))


def _rewrap(cases, old_private_key: bytes, new_public_key: bytes) -> None:
    for case in cases:
        case.recovery_wrap_next = crypto.data_key_seal(
            new_public_key, crypto.data_key_unseal(old_private_key, case.recovery_wrap)
        )
    Case.objects.bulk_update(cases, ["recovery_wrap_next"])


@sensitive_variables("kit_text", "old_private_key", "new_private_key")
def recovery_rotate(
    *,
    actor: User,
    organisation: Organisation,
    kit_text: str,
    batch_size: int = ROTATION_BATCH,
    time_budget: float | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> Rotation:
    """Start or resume rotating the recovery key with the current kit.

    Works in committed batches of `batch_size` cases; stops early (still
    resumable) after `time_budget` seconds. When every case is re-wrapped it
    swaps the keys and returns the new kit, once. `after_batch(done)` is called
    after each committed batch (progress reports; tests use it to crash)."""
    _require_chair(actor, organisation)
    organisation = Organisation.objects.get(pk=organisation.pk)
    old_private_key = kit_private_key(organisation=organisation, kit_text=kit_text)
    if organisation.recovery_rotation_salt is None:
        with transaction.atomic():
            locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
            if locked.recovery_rotation_salt is None:
                salt = secrets.token_bytes(32)
                Case.objects.filter(organisation=organisation).update(recovery_wrap_next=None)
                Organisation.objects.filter(pk=organisation.pk).update(
                    recovery_rotation_salt=salt,
                    recovery_next_public_key=_public_key(_derive_next(old_private_key, salt)),
                )
                audit_log(
                    organisation=organisation,
                    type=AuditType.RECOVERY_ROTATION_STARTED,
                    actor=actor,
                )
        organisation.refresh_from_db()
    rotation_salt = organisation.recovery_rotation_salt
    next_public_key = organisation.recovery_next_public_key
    if rotation_salt is None or next_public_key is None:
        raise ServiceError("The rotation under way cannot be resumed with this kit.")
    new_private_key = _derive_next(old_private_key, bytes(rotation_salt))
    new_public_key = _public_key(new_private_key)
    if new_public_key != bytes(next_public_key):
        raise ServiceError("The rotation under way cannot be resumed with this kit.")

    started = time.monotonic()
    todo = Case.objects.filter(organisation=organisation, recovery_wrap_next__isnull=True)
    while True:
        with transaction.atomic():
            batch = list(
                todo.select_for_update()
                .order_by("pk")
                .only("pk", "number", "recovery_wrap")[:batch_size]
            )
            if not batch:
                break
            _rewrap(batch, old_private_key, new_public_key)
        if after_batch is not None:
            after_batch(rotation_status(organisation=organisation).done)
        if time_budget is not None and time.monotonic() - started > time_budget:
            return rotation_status(organisation=organisation)

    with transaction.atomic():
        # The lock a new report takes too: no case is filed with the old key
        # after the swap, and any filed since the last batch is re-wrapped here.
        Organisation.objects.select_for_update().get(pk=organisation.pk)
        _rewrap(list(todo.only("pk", "number", "recovery_wrap")), old_private_key, new_public_key)
        total = Case.objects.filter(organisation=organisation).update(
            recovery_wrap=F("recovery_wrap_next"), recovery_wrap_next=None
        )
        Organisation.objects.filter(pk=organisation.pk).update(
            recovery_public_key=new_public_key,
            recovery_next_public_key=None,
            recovery_rotation_salt=None,
        )
        audit_log(
            organisation=organisation,
            type=AuditType.RECOVERY_ROTATED,
            actor=actor,
            data={"cases": total},
        )
    return Rotation(
        done=total,
        total=total,
        in_progress=False,
        new_kit=crypto.recovery_kit_encode(organisation.pk, new_private_key),
    )
