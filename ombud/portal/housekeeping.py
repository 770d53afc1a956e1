"""The portal's housekeeping steps (ombud.lib.housekeeping)."""

from datetime import datetime

from ombud.lib.housekeeping import housekeeping_step
from ombud.portal.models import PortalSession, ReceiptRenewal
from ombud.portal.services import PORTAL_IDLE


@housekeeping_step("portal sessions")
def portal_sessions_prune(now: datetime) -> int:
    """Delete the sessions idle for longer than PORTAL_IDLE: resuming one
    would delete it anyway (portal_session_resume). Sessions have no other
    lifetime; closing one or renewing the receipt deletes it at once."""
    return PortalSession.objects.filter(last_seen_at__lt=now - PORTAL_IDLE).delete()[0]


@housekeeping_step("receipt renewals")
def receipt_renewals_prune(now: datetime) -> int:
    """Delete the expired renewal links. A used link is deleted when it is
    used (receipt_renew), with every other link for its case."""
    return ReceiptRenewal.objects.filter(expires_at__lt=now).delete()[0]
