"""The organisations' housekeeping step (ombud.lib.housekeeping)."""

from datetime import datetime, timedelta

from ombud.lib.housekeeping import housekeeping_step
from ombud.orgs.models import Invitation

# An expired invitation stays listed on the team page ("invitation expired:
# add them again") for this long after its link stopped working, so the chair
# sees who never joined; then its name and address are deleted. An accepted
# invitation is deleted when it is accepted (invitation_accept).
INVITATION_SHOWN_EXPIRED = timedelta(days=30)


@housekeeping_step("invitations")
def invitations_prune(now: datetime) -> int:
    return Invitation.objects.filter(expires_at__lt=now - INVITATION_SHOWN_EXPIRED).delete()[0]
