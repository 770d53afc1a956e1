"""What notify needs to know about cases, registered with it: notify sits
below cases and never imports it."""

from ombud.cases.models import Grant
from ombud.notify.models import OutboxMessage
from ombud.notify.sealing import entitlement_check_register


@entitlement_check_register(*OutboxMessage.Topic.values)
def case_holder_entitled(message: OutboxMessage) -> bool:
    """A notification about a case goes only to someone who holds the case
    now: recusal or exclusion after it was queued stops it."""
    if message.case is None or message.user_id is None:
        return True
    return Grant.objects.filter(
        case_id=message.case.pk,
        user_id=message.user_id,
        user__is_active=True,
        user__memberships__organisation_id=message.case.organisation_id,
    ).exists()
