"""The organisations' housekeeping steps (ombud.lib.housekeeping): expired
invitations, and the weekly email of the audit log's head to the chairs."""

from datetime import datetime, timedelta

from ombud.lib.housekeeping import housekeeping_step
from ombud.orgs.models import Invitation, Organisation
from ombud.orgs.services import audit_head_mail

# An expired invitation stays listed on the team page ("invitation expired:
# add them again") for this long after its link stopped working, so the chair
# sees who never joined; then its name and address are deleted. An accepted
# invitation is deleted when it is accepted (invitation_accept).
INVITATION_SHOWN_EXPIRED = timedelta(days=30)


@housekeeping_step("invitations")
def invitations_prune(now: datetime) -> int:
    return Invitation.objects.filter(expires_at__lt=now - INVITATION_SHOWN_EXPIRED).delete()[0]


@housekeeping_step("audit head email")
def audit_heads_mail(now: datetime) -> int:
    """Not a deletion: the chairs of each organisation whose audit chain moved
    get its head once a week (audit_head_mail). Returns how many organisations."""
    return sum(audit_head_mail(organisation=o, now=now) for o in Organisation.objects.all())
