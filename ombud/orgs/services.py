import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from ombud.accounts.mfa import mfa_enabled
from ombud.accounts.models import User
from ombud.accounts.services import user_create, user_private_key_unlock
from ombud.accounts.signals import account_changed
from ombud.audit.models import AuditHead
from ombud.audit.services import audit_log, audit_verify
from ombud.audit.types import AuditType
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.notify.services import email_send
from ombud.orgs.models import (
    EVENT_EDITABLE_FIELDS,
    ORGANISATION_SETTINGS_FIELDS,
    SEED_RESPONSES,
    Event,
    Invitation,
    Membership,
    Organisation,
    RecoveryTrustee,
    ResponseType,
    Role,
)


def _changes_apply(obj, fields: dict, allowed) -> list[str]:
    """Set the allowed fields whose value differs; returns their names, sorted,
    for the audit event."""
    changed = sorted(k for k in allowed if k in fields and getattr(obj, k) != fields[k])
    for name in changed:
        setattr(obj, name, fields[name])
    return changed


@dataclass(frozen=True)
class TrusteeShare:
    """One trustee's share of the recovery kit, in its printed form: shown
    once when the kit is issued and never stored."""

    trustee: User | None
    index: int
    threshold: int
    count: int
    text: str


@dataclass(frozen=True)
class NewOrganisation:
    """An organisation just created, and the shares of its recovery kit:
    shown once and never stored (only the public half of the key is kept)."""

    organisation: Organisation
    shares: tuple[TrusteeShare, ...]


def recovery_threshold_default(trustees: int) -> int:
    return 2 if trustees >= 2 else 1


def recovery_trustees_check(*, organisation: Organisation, trustees, threshold: int) -> None:
    """The rules for a kit's trustees: members of the organisation, at most
    SHARE_MAX; in a team of two or more, at least two trustees and k >= 2, so
    no one person can use the kit alone."""
    trustees = list(trustees)
    if not trustees:
        raise ServiceError("Name at least one trustee.")
    if len(set(trustees)) != len(trustees):
        raise ServiceError("Name each trustee once.")
    if len(trustees) > crypto.SHARE_MAX:
        raise ServiceError(f"Name at most {crypto.SHARE_MAX} trustees.")
    members = set(
        Membership.objects.filter(organisation=organisation).values_list("user_id", flat=True)
    )
    for trustee in trustees:
        if trustee.pk not in members:
            raise ServiceError(f"{trustee} is not a member of {organisation}.")
    if len(members) >= 2 and len(trustees) < 2:
        raise ServiceError(
            "Your team has two or more members: name at least two trustees, so that no "
            "one person can use the recovery kit alone."
        )
    if len(trustees) >= 2 and not 2 <= threshold <= len(trustees):
        raise ServiceError(
            f"The number of shares needed must be between 2 and {len(trustees)} (the number "
            "of trustees): with 1, any trustee could use the kit alone."
        )
    if len(trustees) == 1 and threshold != 1:
        raise ServiceError("With one trustee, their share alone is the kit (1 of 1).")


def recovery_kit_issue(
    *, organisation: Organisation, private_key: bytes, trustees, threshold: int
) -> tuple[TrusteeShare, ...]:
    """Split the recovery private key among `trustees` (k = `threshold`) and
    record who holds which share; returns the shares, which are never stored.
    Runs inside the transaction of a service that checked permission
    (organisation_create, the rotation in ombud.cases.services.recovery)."""
    trustees = list(trustees)
    shares = crypto.recovery_shares_split(
        organisation.pk,
        private_key,
        threshold=threshold,
        count=len(trustees),
        public_key=organisation.recovery_public_key,
    )
    RecoveryTrustee.objects.filter(organisation=organisation).delete()
    RecoveryTrustee.objects.bulk_create(
        RecoveryTrustee(organisation=organisation, user=trustee, index=share.index)
        for trustee, share in zip(trustees, shares, strict=True)
    )
    Organisation.objects.filter(pk=organisation.pk).update(
        recovery_threshold=threshold, recovery_next_threshold=None
    )
    organisation.recovery_threshold = threshold
    return tuple(
        TrusteeShare(
            trustee, share.index, threshold, len(trustees), crypto.recovery_share_encode(share)
        )
        for trustee, share in zip(trustees, shares, strict=True)
    )


def organisation_create(
    *, name: str, slug: str, chair: User, responders: Sequence[User] = ()
) -> NewOrganisation:
    """Create an organisation with its chair, first responders, recovery key
    pair and standing event.

    The recovery kit is split among the chair and the responders: 2 of n when
    there are two or more of them, else 1 of 1. Returns the organisation and
    the shares, which are shown once and never stored: only the public half of
    the key is kept."""
    public_key, private_key = crypto.keypair_new()
    trustees = [chair, *responders]
    threshold = recovery_threshold_default(len(trustees))
    with transaction.atomic():
        organisation = Organisation.objects.create(
            name=name, slug=slug, recovery_public_key=public_key
        )
        Membership.objects.create(user=chair, organisation=organisation, role=Role.CHAIR)
        for responder in responders:
            Membership.objects.create(user=responder, organisation=organisation)
        ResponseType.objects.bulk_create(
            ResponseType(organisation=organisation, name=label, severity=severity, position=i)
            for i, (label, severity) in enumerate(SEED_RESPONSES)
        )
        Event.objects.create(
            organisation=organisation,
            name=f"{name} (online spaces and anywhere else)",
            slug="general",
            is_standing=True,
        )
        recovery_trustees_check(organisation=organisation, trustees=trustees, threshold=threshold)
        shares = recovery_kit_issue(
            organisation=organisation,
            private_key=private_key,
            trustees=trustees,
            threshold=threshold,
        )
        audit_log(
            organisation=organisation,
            type=AuditType.ORGANISATION_CREATED,
            actor=chair,
            data={
                "chair": chair.pk,
                "responders": [r.pk for r in responders],
                "trustees": [t.pk for t in trustees],
                "threshold": threshold,
            },
        )
    return NewOrganisation(organisation, shares)


def event_create(*, actor: User, organisation: Organisation, **fields) -> Event:
    if not actor.has_perm("orgs.manage_events", organisation):
        raise PermissionDenied
    fields.setdefault("slug", slugify(fields["name"])[:60])
    with transaction.atomic():
        event = Event(
            organisation=organisation,
            **{k: fields[k] for k in fields if k in EVENT_EDITABLE_FIELDS},
        )
        event.full_clean()
        event.save()
        audit_log(
            organisation=organisation,
            type=AuditType.EVENT_CREATED,
            actor=actor,
            data={"event": event.pk},
        )
    return event


def standing_event_errors(event: Event, fields: dict) -> dict[str, str]:
    """What a change would break on the standing event: it always exists, at
    the same address, and always takes reports (the report form of anything
    that belongs to no event). Its name and contacts may change."""
    if not event.is_standing:
        return {}
    errors = {}
    if "slug" in fields and fields["slug"] != event.slug:
        errors["slug"] = (
            f"The standing event keeps its address ({event.get_report_url()}): "
            "links to it must keep working."
        )
    if "accepts_reports" in fields and not fields["accepts_reports"]:
        errors["accepts_reports"] = (
            "The standing event always takes reports: it is where reports go that "
            "belong to no event."
        )
    return errors


def event_update(*, actor: User, event: Event, **fields) -> Event:
    if not actor.has_perm("orgs.manage_events", event.organisation):
        raise PermissionDenied
    if errors := standing_event_errors(event, fields):
        raise ValidationError(errors)
    with transaction.atomic():
        changed = _changes_apply(event, fields, EVENT_EDITABLE_FIELDS)
        event.full_clean()
        event.save()
        audit_log(
            organisation=event.organisation,
            type=AuditType.EVENT_UPDATED,
            actor=actor,
            data={"event": event.pk, "fields": changed},
        )
    return event


RESPONSE_TYPE_FIELDS = ["name", "severity", "retired"]


def response_type_create(
    *, actor: User, organisation: Organisation, name: str, severity: int
) -> ResponseType:
    if not actor.has_perm("orgs.manage_catalog", organisation):
        raise PermissionDenied
    with transaction.atomic():
        last = organisation.response_types.order_by("-position").first()
        response_type = ResponseType.objects.create(
            organisation=organisation,
            name=name,
            severity=severity,
            position=(last.position + 1) if last else 0,
        )
        audit_log(
            organisation=organisation,
            type=AuditType.RESPONSE_TYPE_CREATED,
            actor=actor,
            data={"response_type": response_type.pk},
        )
    return response_type


def response_type_update(*, actor: User, response_type, **fields) -> ResponseType:
    """Rename, re-grade or retire a response. Decisions that chose it keep it."""
    organisation = response_type.organisation
    if not actor.has_perm("orgs.manage_catalog", organisation):
        raise PermissionDenied
    with transaction.atomic():
        changed = _changes_apply(response_type, fields, RESPONSE_TYPE_FIELDS)
        response_type.save()
        audit_log(
            organisation=organisation,
            type=AuditType.RESPONSE_TYPE_UPDATED,
            actor=actor,
            data={"response_type": response_type.pk, "fields": changed},
        )
    return response_type


def organisation_settings_update(
    *, actor: User, organisation: Organisation, **fields
) -> Organisation:
    if not actor.has_perm("orgs.manage_settings", organisation):
        raise PermissionDenied
    if fields.get("require_mfa") and not organisation.require_mfa and not mfa_enabled(actor):
        raise ServiceError(
            "Set up two-factor authentication for yourself first (Profile → "
            "Two-factor authentication), then require it for the team."
        )
    with transaction.atomic():
        changed = _changes_apply(organisation, fields, ORGANISATION_SETTINGS_FIELDS)
        organisation.save(update_fields=changed or None)
        audit_log(
            organisation=organisation,
            type=AuditType.ORGANISATION_SETTINGS_CHANGED,
            actor=actor,
            data={"fields": changed},
        )
    return organisation


# --- the team ------------------------------------------------------------------

INVITATION_VALID = timedelta(days=7)
INVITATION_PURPOSE = "staff-invitation"


def _token_encode(secret: bytes) -> str:
    return base64.urlsafe_b64encode(secret).decode().rstrip("=")


def _token_decode(value: str | None) -> bytes | None:
    value = value or ""
    try:
        secret = base64.urlsafe_b64decode((value + "=" * (-len(value) % 4)).encode())
    except ValueError:
        return None
    return secret if len(secret) == 32 else None


def member_add(
    *, actor: User, organisation: Organisation, email: str, display_name: str, role: str
) -> Invitation:
    """Invite someone to the team with an emailed one-time link. Someone new
    sets their password with it, which creates their account and key pair;
    someone who has an account already accepts it after logging in. Either
    way they join only by accepting, and the chair gets the same answer
    whether the address has an account or not. Existing cases stay closed
    to them until someone who holds them grants access."""
    if not actor.has_perm("orgs.manage_team", organisation):
        raise PermissionDenied
    email = email.strip().lower()
    with transaction.atomic():
        if Membership.objects.filter(organisation=organisation, user__email__iexact=email).exists():
            raise ServiceError("This person is already on the team.")
        # Inviting again replaces the earlier link.
        Invitation.objects.filter(organisation=organisation, email=email).delete()
        secret = secrets.token_bytes(32)
        invitation = Invitation.objects.create(
            organisation=organisation,
            email=email,
            display_name=display_name,
            role=role,
            secret_hash=crypto.token_hash(INVITATION_PURPOSE, secret),
            invited_by=actor,
            expires_at=timezone.now() + INVITATION_VALID,
        )
        audit_log(
            organisation=organisation,
            type=AuditType.MEMBER_INVITED,
            actor=actor,
            data={"invitation": invitation.pk, "role": role},
        )
        url = settings.SITE_ROOT + reverse("invitation-accept", args=[_token_encode(secret)])
        email_send(
            organisation=organisation,
            to=email,
            template="invitation",
            context={"organisation": organisation, "actor": actor, "url": url},
        )
    return invitation


def invitation_get(*, token: str | None) -> Invitation | None:
    """The live invitation a link's token names, or None (unknown, used or expired)."""
    secret = _token_decode(token)
    if secret is None:
        return None
    return (
        Invitation.objects.filter(
            secret_hash=crypto.token_hash(INVITATION_PURPOSE, secret),
            expires_at__gt=timezone.now(),
        )
        .select_related("organisation")
        .first()
    )


@dataclass(frozen=True)
class Joined:
    """A new team member's account, and their private key for this session."""

    user: User
    private_key: bytes


def _invitation_locked(token: str) -> Invitation:
    invitation = invitation_get(token=token)
    if invitation is not None:
        invitation = Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
    if invitation is None:
        raise ServiceError(INVITATION_INVALID)
    return invitation


def invitation_account(*, invitation: Invitation) -> User | None:
    """The account the invitation's address has already, if any: it accepts
    by logging in (invitation_join), not by setting a password."""
    return User.objects.filter(email__iexact=invitation.email).first()


def invitation_accept(*, token: str, password: str) -> Joined:
    """Create the invitee's account and key pair and put them on the team;
    the link cannot be used again. Returns the user and their private key."""
    with transaction.atomic():
        invitation = _invitation_locked(token)
        if invitation_account(invitation=invitation) is not None:
            raise ServiceError(
                "An account with this email exists already: log in with it and open the "
                "invitation link again to join."
            )
        password_validation.validate_password(password)
        user = user_create(
            email=invitation.email, password=password, display_name=invitation.display_name
        )
        private_key = user_private_key_unlock(user=user, password=password)
        Membership.objects.create(
            user=user, organisation=invitation.organisation, role=invitation.role
        )
        audit_log(
            organisation=invitation.organisation,
            type=AuditType.INVITATION_ACCEPTED,
            actor=user,
            data={"invitation": invitation.pk, "user": user.pk, "role": invitation.role},
        )
        invitation.delete()
    return Joined(user, private_key)


def invitation_join(*, token: str, actor: User) -> Membership:
    """Someone with an account, logged in, accepts an invitation to another
    team: no new password or key. Only the account of the invited address
    can (PermissionDenied for any other); the link cannot be used again."""
    with transaction.atomic():
        invitation = _invitation_locked(token)
        if actor.email.lower() != invitation.email.lower():
            raise PermissionDenied
        organisation = invitation.organisation
        membership, created = Membership.objects.get_or_create(
            user=actor, organisation=organisation, defaults={"role": invitation.role}
        )
        if created:
            audit_log(
                organisation=organisation,
                type=AuditType.INVITATION_ACCEPTED,
                actor=actor,
                data={"invitation": invitation.pk, "user": actor.pk, "role": invitation.role},
            )
        invitation.delete()
    return membership


INVITATION_INVALID = (
    "This invitation link is not valid: it may have expired or been used already. "
    "Ask the chair of your team to invite you again."
)


def member_role_change(*, actor: User, membership: Membership, role: str) -> Membership:
    organisation = membership.organisation
    if not actor.has_perm("orgs.manage_team", organisation):
        raise PermissionDenied
    with transaction.atomic():
        # Lock the organisation so two chairs demoting each other at once cannot
        # both pass the check, and judge by the stored role: a bound ModelForm may
        # already have set the new role on the instance it was given.
        Organisation.objects.select_for_update().filter(pk=organisation.pk).first()
        current = Membership.objects.values_list("role", flat=True).get(pk=membership.pk)
        if current == Role.CHAIR and role != Role.CHAIR:
            chairs = Membership.objects.filter(organisation=organisation, role=Role.CHAIR)
            if chairs.count() <= 1:
                raise ServiceError("The organisation needs at least one chair.")
        membership.role = role
        membership.save(update_fields=["role"])
        audit_log(
            organisation=organisation,
            type=AuditType.MEMBER_ROLE_CHANGED,
            actor=actor,
            data={"user": membership.user_id, "role": role},
        )
    return membership


def member_mfa_reset(*, actor: User, membership: Membership) -> int:
    """The chair removes a member's authenticators and recovery codes, for
    someone who lost their device and their codes. Their keys and grants are
    untouched; they log in with the password and set up a new authenticator
    (at once, when the organisation requires it). Refused for someone who is
    also on another organisation's team: that chair must agree."""
    organisation = membership.organisation
    if not actor.has_perm("orgs.manage_team", organisation):
        raise PermissionDenied
    user = membership.user
    if user.pk == actor.pk:
        raise ServiceError("Reset your own two-factor authentication on your profile page.")
    if Membership.objects.filter(user=user).exclude(organisation=organisation).exists():
        raise ServiceError(
            "This person is also on another organisation's team; their two-factor "
            "authentication cannot be reset from here."
        )
    with transaction.atomic():
        removed, _ = Authenticator.objects.filter(user=user).delete()
        audit_log(
            organisation=organisation,
            type=AuditType.MFA_RESET_BY_CHAIR,
            actor=actor,
            data={"user": user.pk, "authenticators": removed},
        )
    return removed


# --- the audit log's head, kept by the chairs outside the database ---------------------

AUDIT_HEAD_MAILED_EVERY = timedelta(days=7)


def audit_head_mail(*, organisation: Organisation, now) -> bool:
    """Email the chairs the newest event of the organisation's audit chain,
    once a week and only when the chain moved since the last email: kept
    outside the database, it shows later whether events were cut or the
    chain rewritten (`manage.py audit_verify --expect`). The sending is
    itself the newest event; the email holds no report content. True when
    sent. Runs as a housekeeping step, without an actor."""
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(pk=organisation.pk).first()
        if head is None or head.seq <= head.mailed_seq:
            return False
        if head.mailed_at is not None and head.mailed_at > now - AUDIT_HEAD_MAILED_EVERY:
            return False
        intact = not audit_verify(organisation=organisation)
        chairs = list(
            Membership.objects.filter(
                organisation=organisation, role=Role.CHAIR, user__is_active=True
            ).select_related("user")
        )
        event = audit_log(
            organisation=organisation,
            type=AuditType.AUDIT_HEAD_MAILED,
            data={"chairs": [m.user_id for m in chairs], "intact": intact},
        )
        AuditHead.objects.filter(pk=organisation.pk).update(mailed_seq=event.seq, mailed_at=now)
        for membership in chairs:
            email_send(
                organisation=organisation,
                to=membership.user.email,
                template="audit_head",
                context={
                    "organisation": organisation,
                    "head": f"{organisation.slug}:{event.seq}:{event.hash}",
                    "intact": intact,
                    "date": now,
                },
                user=membership.user,
            )
    return True


@receiver(account_changed, dispatch_uid="ombud-orgs-account-changed")
def account_change_audit(
    sender, *, user: User, type: AuditType, data: dict, actor: User | None = None, **kwargs
):
    """A change to an account is recorded in each organisation it belongs to."""
    for membership in Membership.objects.filter(user=user).select_related("organisation"):
        audit_log(organisation=membership.organisation, type=type, actor=actor, data=data)
