"""Intake's housekeeping step (ombud.lib.housekeeping)."""

from datetime import datetime, timedelta

from django.conf import settings

from ombud.intake.models import InboundMail
from ombud.lib.housekeeping import housekeeping_step


@housekeeping_step("inbound mail dedupe")
def inbound_mail_prune(now: datetime) -> int:
    """Forget the mail taken in more than OMBUD_INBOUND_DEDUPE_DAYS ago: it
    will not be delivered again (see the setting). The case it made stays."""
    window = timedelta(days=settings.OMBUD_INBOUND_DEDUPE_DAYS)
    return InboundMail.objects.filter(received_at__lt=now - window).delete()[0]
