from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction

from ombud.accounts.models import Membership, Role
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
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


def member_add(*, actor, organisation, email: str, display_name: str, role: str, password: str):
    """Add a team member: an existing account joins, or a new one is created
    with the given first password. Existing cases stay closed to them until
    someone who holds them grants access (never silently)."""
    if not actor.has_perm("orgs.manage_team", organisation):
        raise PermissionDenied
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = user_create(email=email, password=password, display_name=display_name)
        membership, created = Membership.objects.get_or_create(
            user=user, organisation=organisation, defaults={"role": role}
        )
        if not created:
            raise ServiceError("This person is already on the team.")
        audit_log(
            organisation=organisation,
            type=AuditType.MEMBER_ADDED,
            actor=actor,
            data={"user": user.pk, "role": role},
        )
    return membership


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
