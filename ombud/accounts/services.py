import base64
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ombud.accounts.models import Invitation, Membership, Role
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.notify.services import outbox_email
from ombud.orgs.models import Organisation

User = get_user_model()


def user_create(*, email: str, password: str, display_name: str = "") -> User:
    """A staff account with its key pair; the private key is locked under the password."""
    public_key, private_key = crypto.keypair_new()
    box, salt, params = crypto.private_key_lock(private_key, password)
    user = User(
        username=email.lower(),
        email=email.lower(),
        display_name=display_name,
        public_key=public_key,
        private_key_box=box,
        key_salt=salt,
        key_params=params,
    )
    user.set_password(password)
    user.save()
    return user


def user_private_key_unlock(*, user, password: str) -> bytes:
    return crypto.private_key_unlock(user.private_key_box, password, user.key_salt, user.key_params)


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


def member_add(*, actor, organisation, email: str, display_name: str, role: str):
    """Add a team member. An existing account joins at once (returns the
    Membership); anyone else gets an emailed one-time link to set their
    password, which creates their key pair (returns the Invitation). Existing
    cases stay closed to them until someone who holds them grants access."""
    if not actor.has_perm("orgs.manage_team", organisation):
        raise PermissionDenied
    email = email.strip().lower()
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        if user is not None:
            membership, created = Membership.objects.get_or_create(
                user=user, organisation=organisation, defaults={"role": role}
            )
            if not created:
                raise ServiceError("This person is already on the team.")
            Invitation.objects.filter(organisation=organisation, email=email).delete()
            audit_log(
                organisation=organisation,
                type=AuditType.MEMBER_ADDED,
                actor=actor,
                data={"user": user.pk, "role": role},
            )
            return membership
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
        outbox_email(
            organisation=organisation,
            to=email,
            subject=f"[{organisation.name}] You are invited to the Code of Conduct team",
            body=(
                f"{actor} invites you to join the Code of Conduct team of "
                f"{organisation.name} on Ombud.\n\n"
                f"Set your password here (the link works once, for 7 days):\n{url}\n\n"
                "If you did not expect this, ignore this email."
            ),
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


def invitation_accept(*, token: str, password: str) -> tuple[User, bytes]:
    """Create the invitee's account and key pair and put them on the team;
    the link cannot be used again. Returns the user and their private key."""
    with transaction.atomic():
        invitation = invitation_get(token=token)
        if invitation is not None:
            invitation = Invitation.objects.select_for_update().filter(pk=invitation.pk).first()
        if invitation is None:
            raise ServiceError(INVITATION_INVALID)
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ServiceError(
                "An account with this email exists already: log in with it and ask "
                "the chair to add it to the team."
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
    return user, private_key


INVITATION_INVALID = (
    "This invitation link is not valid: it may have expired or been used already. "
    "Ask the chair of your team to invite you again."
)


def _audit_everywhere(user, type: AuditType, data: dict) -> None:
    """A change to an account is recorded in each organisation it belongs to."""
    for membership in Membership.objects.filter(user=user).select_related("organisation"):
        audit_log(organisation=membership.organisation, type=type, actor=user, data=data)


def user_password_change(*, user, old_password: str, new_password: str) -> bytes:
    """Re-encrypt the same private key under the new password: every case
    stays readable. Returns the private key for the current session. Other
    sessions end: the session auth hash changes with the password."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if not user.check_password(old_password):
            raise ServiceError("Your current password was entered incorrectly.")
        password_validation.validate_password(new_password, user)
        private_key = None
        if user.has_keys:
            private_key = user_private_key_unlock(user=user, password=old_password)
            user.private_key_box, user.key_salt, user.key_params = crypto.private_key_lock(
                private_key, new_password
            )
        user.set_password(new_password)
        user.save()
        _audit_everywhere(user, AuditType.PASSWORD_CHANGED, {"user": user.pk})
    return private_key


def user_password_reset(*, user, new_password: str) -> int:
    """A forgotten password: the old private key is lost with it, so the
    account gets a new key pair, and every case it could read becomes a
    PendingAccess row for someone who holds the case (or the chair with the
    recovery kit) to restore. Returns how many cases wait for that."""
    from ombud.cases.models import Grant, PendingAccess

    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        password_validation.validate_password(new_password, user)
        public_key, private_key = crypto.keypair_new()
        user.public_key = public_key
        user.private_key_box, user.key_salt, user.key_params = crypto.private_key_lock(
            private_key, new_password
        )
        user.set_password(new_password)
        user.save()
        grants = list(Grant.objects.filter(user=user).select_related("case"))
        for grant in grants:
            PendingAccess.objects.get_or_create(case=grant.case, user=user)
        Grant.objects.filter(pk__in=[g.pk for g in grants]).delete()
        by_org: dict = {}
        for grant in grants:
            by_org.setdefault(grant.case.organisation_id, []).append(grant.case.number)
        for membership in Membership.objects.filter(user=user).select_related("organisation"):
            audit_log(
                organisation=membership.organisation,
                type=AuditType.PASSWORD_RESET,
                actor=user,
                data={
                    "user": user.pk,
                    "pending_cases": sorted(by_org.get(membership.organisation_id, [])),
                },
            )
    return len(grants)


def member_open_assigned_cases(*, membership):
    from ombud.cases.models import Case, Status

    return (
        Case.objects.filter(organisation=membership.organisation, assignee=membership.user)
        .exclude(status=Status.CLOSED)
        .order_by("number")
    )


def member_remove(*, actor, membership) -> list:
    """Take someone off the team: membership, grants and pending access for
    the organisation's cases go at once; open cases assigned to them are
    unassigned (returned, for reassignment). The last chair stays."""
    from ombud.cases.models import Grant, PendingAccess

    organisation = membership.organisation
    if not actor.has_perm("orgs.manage_team", organisation):
        raise PermissionDenied
    with transaction.atomic():
        Organisation.objects.select_for_update().filter(pk=organisation.pk).first()
        membership = Membership.objects.filter(pk=membership.pk).select_related("user").first()
        if membership is None:
            raise ServiceError("This person is not on the team any more.")
        if membership.role == Role.CHAIR:
            chairs = Membership.objects.filter(organisation=organisation, role=Role.CHAIR)
            if chairs.count() <= 1:
                raise ServiceError(
                    "The last chair cannot be removed: make someone else chair first."
                )
        user = membership.user
        grants, _ = Grant.objects.filter(user=user, case__organisation=organisation).delete()
        pending, _ = PendingAccess.objects.filter(
            user=user, case__organisation=organisation
        ).delete()
        assigned = list(member_open_assigned_cases(membership=membership))
        for case in assigned:
            case.assignee = None
            case.save(update_fields=["assignee", "updated_at"])
            audit_log(
                organisation=organisation,
                type=AuditType.CASE_ASSIGNED,
                actor=actor,
                case=case,
                data={"assignee": None, "reason": "member removed"},
            )
        membership.delete()
        audit_log(
            organisation=organisation,
            type=AuditType.MEMBER_REMOVED,
            actor=actor,
            data={
                "user": user.pk,
                "grants_deleted": grants,
                "pending_deleted": pending,
                "unassigned_cases": [c.number for c in assigned],
            },
        )
    return assigned


def member_role_change(*, actor, membership, role: str) -> Membership:
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


def password_reset_send(*, user, uid: str, token: str) -> None:
    """Queue the reset link for an account that asked for one. The token is
    Django's (an HMAC over the account's state): stored nowhere, dead once
    the password changes or after PASSWORD_RESET_TIMEOUT."""
    from django.core.mail import send_mail

    url = settings.SITE_ROOT + reverse("password-reset-confirm", args=[uid, token])
    subject = "Reset your Ombud password"
    body = (
        "Someone (hopefully you) asked to reset the password of your Ombud account.\n\n"
        f"Choose a new password here (the link works once, for an hour):\n{url}\n\n"
        "Resetting gives your account a new key: the cases you can read now must then "
        "be opened for you again by a responder who holds them, or by the chair with "
        "the recovery kit. If you remember your password, ignore this email.\n"
    )
    memberships = list(Membership.objects.filter(user=user).select_related("organisation"))
    if not memberships:
        send_mail(subject, body, None, [user.email])
        return
    with transaction.atomic():
        outbox_email(
            organisation=memberships[0].organisation, to=user.email, subject=subject, body=body
        )
        for membership in memberships:
            audit_log(
                organisation=membership.organisation,
                type=AuditType.PASSWORD_RESET_REQUESTED,
                data={"user": user.pk},
            )


def member_mfa_reset(*, actor, membership) -> int:
    """The chair removes a member's authenticators and recovery codes, for
    someone who lost their device and their codes. Their keys and grants are
    untouched; they log in with the password and set up a new authenticator
    (at once, when the organisation requires it). Refused for someone who is
    also on another organisation's team: that chair must agree."""
    from allauth.mfa.models import Authenticator

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


def mfa_change_audit(*, user, added: bool) -> None:
    """An authenticator was added or removed on allauth's pages: recorded in
    the audit log of every organisation the person belongs to."""
    memberships = Membership.objects.filter(user=user).select_related("organisation")
    for membership in memberships:
        with transaction.atomic():
            audit_log(
                organisation=membership.organisation,
                type=AuditType.MFA_ADDED if added else AuditType.MFA_REMOVED,
                actor=user,
                data={"user": user.pk},
            )
