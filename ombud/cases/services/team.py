"""What happens to cases when someone leaves the team or loses their key."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.dispatch import receiver

from ombud.accounts.models import User
from ombud.accounts.signals import keys_replaced
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.models import Case, Grant, PendingAccess, Status
from ombud.lib.errors import ServiceError
from ombud.orgs.models import Membership, Organisation, Role


def member_open_assigned_cases(*, membership: Membership):
    return (
        Case.objects.filter(organisation=membership.organisation, assignee=membership.user)
        .exclude(status=Status.CLOSED)
        .order_by("number")
    )


def member_remove(*, actor: User, membership: Membership) -> list:
    """Take someone off the team: membership, grants and pending access for
    the organisation's cases go at once; open cases assigned to them are
    unassigned (returned, for reassignment). The last chair stays."""
    organisation = membership.organisation
    if not actor.has_perm("orgs.manage_team", organisation):
        raise PermissionDenied
    with transaction.atomic():
        Organisation.objects.select_for_update().filter(pk=organisation.pk).first()
        current = Membership.objects.filter(pk=membership.pk).select_related("user").first()
        if current is None:
            raise ServiceError("This person is not on the team any more.")
        membership = current
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


@receiver(keys_replaced, dispatch_uid="ombud-cases-keys-replaced")
def grants_pending_on_new_keys(sender, *, user: User, **kwargs) -> int:
    """The person's old key opens nothing any more: each case they could read
    becomes a PendingAccess row for someone who holds the case (or the
    recovery kit's trustees) to restore, recorded in each organisation."""
    grants = list(Grant.objects.filter(user=user).select_related("case"))
    for grant in grants:
        PendingAccess.objects.get_or_create(case=grant.case, user=user)
    Grant.objects.filter(pk__in=[g.pk for g in grants]).delete()
    by_org: dict[int, list[int]] = {}
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
