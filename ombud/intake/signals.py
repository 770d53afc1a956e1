"""The inbound mail anymail's webhook views verified, taken in."""

import logging

from anymail.signals import inbound
from django.dispatch import receiver

from ombud.intake import mailin

logger = logging.getLogger(__name__)


class MailNotTakenIn(Exception):
    """Answered as a 500: the provider keeps the mail and posts it again."""


@receiver(inbound, dispatch_uid="ombud.intake.inbound_mail_receive")
def inbound_mail_receive(sender, event, esp_name, **kwargs):
    message = event.message
    recipients = [message.envelope_recipient] if message.envelope_recipient else None
    try:
        outcome = mailin.mail_receive(message.as_bytes(), envelope_recipients=recipients)
    except Exception as e:
        # Its message and traceback could quote the mail: only the class is logged.
        logger.error("inbound webhook: mail not taken in: %s", type(e).__name__)
        raise MailNotTakenIn from None
    if outcome.quarantine:
        # Nothing to keep it in: the provider's log is where it can be found.
        logger.warning("inbound webhook: mail could not be taken in (%s)", outcome.reason or "-")
