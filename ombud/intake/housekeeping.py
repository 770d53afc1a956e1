"""Intake's housekeeping step (ombud.lib.housekeeping)."""

from datetime import datetime, timedelta

from django.conf import settings

from ombud.intake.models import FormToken, InboundMail
from ombud.lib.housekeeping import housekeeping_step

# A form sent again is sent within minutes (a double click, a retry) or, from
# the browser's history, days later: a week covers both.
FORM_TOKEN_DAYS = 7


@housekeeping_step("inbound mail dedupe")
def inbound_mail_prune(now: datetime) -> int:
    """Forget the mail taken in more than OMBUD_INBOUND_DEDUPE_DAYS ago: it
    will not be delivered again (see the setting). The case it made stays."""
    window = timedelta(days=settings.OMBUD_INBOUND_DEDUPE_DAYS)
    return InboundMail.objects.filter(received_at__lt=now - window).delete()[0]


@housekeeping_step("report form tokens")
def form_tokens_prune(now: datetime) -> int:
    """Forget the forms sent more than FORM_TOKEN_DAYS ago. The case stays."""
    return FormToken.objects.filter(created_at__lt=now - timedelta(days=FORM_TOKEN_DAYS)).delete()[
        0
    ]
