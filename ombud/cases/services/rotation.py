"""Re-issuing the recovery kit: a rotation to a new key, split among the
trustees named for it, that re-wraps every case key in batches and can be
interrupted at any point (see ombud.cases.services.recovery for the kit
itself). The new wrap goes to Case.recovery_wrap_next beside the old one, and
only when every case has one are they swapped, in one transaction under the
organisation lock (which a new report takes too)."""

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.db import transaction
from django.db.models import F
from django.views.decorators.debug import sensitive_variables

from ombud.accounts.models import User
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.models import Case
from ombud.cases.services.recovery import (
    ROTATION_BATCH,
    chair_require,
    kit_audit_data,
    kit_private_key,
    public_key_of,
)
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.orgs.models import Membership, Organisation, RecoveryTrustee
from ombud.orgs.services import (
    TrusteeShare,
    recovery_kit_issue,
    recovery_threshold_default,
    recovery_trustees_check,
)


@dataclass
class Rotation:
    done: int  # cases already wrapped for the new key
    total: int
    in_progress: bool
    # Only when this call completed the rotation: the new kit's shares, once.
    new_shares: tuple[TrusteeShare, ...] = ()

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


def trustees_default(*, organisation: Organisation) -> tuple[list[User], int]:
    """The trustees and k a re-issue proposes: the current trustees still on
    the team (else the team's members) and their k, at least 2 of n when n >= 2."""
    members = Membership.objects.filter(organisation=organisation)
    current = RecoveryTrustee.objects.filter(
        organisation=organisation, pending=False, user__in=members.values("user")
    ).select_related("user")
    trustees = [t.user for t in current if t.user is not None] or [
        m.user
        for m in members.select_related("user").order_by("user__display_name", "user__email")[
            : crypto.SHARE_MAX
        ]
    ]
    threshold = organisation.recovery_threshold or 0
    if not 2 <= threshold <= len(trustees):
        threshold = recovery_threshold_default(len(trustees))
    return trustees, threshold


def _pending_trustees_store(*, organisation: Organisation, trustees, threshold) -> None:
    RecoveryTrustee.objects.filter(organisation=organisation, pending=True).delete()
    RecoveryTrustee.objects.bulk_create(
        RecoveryTrustee(organisation=organisation, user=user, index=i, pending=True)
        for i, user in enumerate(trustees, start=1)
    )
    Organisation.objects.filter(pk=organisation.pk).update(recovery_next_threshold=threshold)


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


@sensitive_variables("kit_text", "kit", "old_private_key", "new_private_key")
def recovery_rotate(
    *,
    actor: User,
    organisation: Organisation,
    kit_text: str,
    trustees: list[User] | None = None,
    threshold: int | None = None,
    batch_size: int = ROTATION_BATCH,
    time_budget: float | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> Rotation:
    """Start or resume re-issuing the recovery kit with the current shares:
    a new recovery key, split among `trustees` (k = `threshold`; by default
    the current trustees and k). The trustees are fixed when the rotation
    starts; resuming ignores them.

    Works in committed batches of `batch_size` cases; stops early (still
    resumable) after `time_budget` seconds. When every case is re-wrapped it
    swaps the keys and returns the new shares, once. `after_batch(done)` is
    called after each committed batch (progress reports; tests use it to crash)."""
    chair_require(actor, organisation)
    organisation = Organisation.objects.get(pk=organisation.pk)
    kit = kit_private_key(organisation=organisation, kit_text=kit_text)
    old_private_key = kit.private_key
    if organisation.recovery_next_threshold is None:
        # A rotation not started yet, or started before trustees were named.
        if trustees is None:
            trustees, default_threshold = trustees_default(organisation=organisation)
            threshold = threshold or default_threshold
        threshold = threshold or recovery_threshold_default(len(trustees))
        recovery_trustees_check(organisation=organisation, trustees=trustees, threshold=threshold)
    if organisation.recovery_rotation_salt is None or organisation.recovery_next_threshold is None:
        with transaction.atomic():
            locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
            if locked.recovery_next_threshold is None:
                _pending_trustees_store(
                    organisation=organisation, trustees=trustees, threshold=threshold
                )
            if locked.recovery_rotation_salt is None:
                salt = secrets.token_bytes(32)
                Case.objects.filter(organisation=organisation).update(recovery_wrap_next=None)
                Organisation.objects.filter(pk=organisation.pk).update(
                    recovery_rotation_salt=salt,
                    recovery_next_public_key=public_key_of(_derive_next(old_private_key, salt)),
                )
                audit_log(
                    organisation=organisation,
                    type=AuditType.RECOVERY_ROTATION_STARTED,
                    actor=actor,
                    data={
                        **kit_audit_data(organisation=organisation, kit=kit),
                        "new_trustees": [t.pk for t in trustees or []],
                        "threshold": threshold,
                    },
                )
        organisation.refresh_from_db()
    rotation_salt = organisation.recovery_rotation_salt
    next_public_key = organisation.recovery_next_public_key
    if rotation_salt is None or next_public_key is None:
        raise ServiceError("The rotation under way cannot be resumed with these shares.")
    new_private_key = _derive_next(old_private_key, bytes(rotation_salt))
    new_public_key = public_key_of(new_private_key)
    if new_public_key != bytes(next_public_key):
        raise ServiceError("The rotation under way cannot be resumed with these shares.")

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
        locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
        _rewrap(list(todo.only("pk", "number", "recovery_wrap")), old_private_key, new_public_key)
        total = Case.objects.filter(organisation=organisation).update(
            recovery_wrap=F("recovery_wrap_next"), recovery_wrap_next=None
        )
        Organisation.objects.filter(pk=organisation.pk).update(
            recovery_public_key=new_public_key,
            recovery_next_public_key=None,
            recovery_rotation_salt=None,
        )
        locked.recovery_public_key = new_public_key
        new_trustees = [
            t.user
            for t in RecoveryTrustee.objects.filter(
                organisation=organisation, pending=True
            ).select_related("user")
        ]
        new_threshold = locked.recovery_next_threshold or 1
        shares = recovery_kit_issue(
            organisation=locked,
            private_key=new_private_key,
            trustees=new_trustees,
            threshold=new_threshold,
        )
        audit_log(
            organisation=organisation,
            type=AuditType.RECOVERY_ROTATED,
            actor=actor,
            data={
                "cases": total,
                "trustees": [t.pk if t else None for t in new_trustees],
                "threshold": new_threshold,
            },
        )
    return Rotation(done=total, total=total, in_progress=False, new_shares=shares)
