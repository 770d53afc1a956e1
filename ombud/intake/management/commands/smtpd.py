"""`manage.py smtpd`: a small SMTP server that takes in mail for the team
addresses (OMBUD_MAIL_INTAKE=smtp), for installs whose mail server (Postfix,
say) hands the team address over to it, or that receive mail directly.

The sender gets its answer only after `mail_receive` committed: 250 means
stored. 451 asks it to try again later (nothing is lost on our errors); 550
and 554 refuse for good, and the sender's server tells the sender."""

import logging
import signal
import threading

from aiosmtpd.controller import Controller
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from ombud.intake import mailin

logger = logging.getLogger(__name__)

ACCEPTED = "250 2.0.0 Message accepted"
UNKNOWN_RECIPIENT = "550 5.1.1 No such recipient here"
REFUSED = "554 5.6.0 Message could not be processed"
TRY_LATER = "451 4.3.0 Temporary failure, please try again later"


def _in_thread(function, *args, **kwargs):
    """Database work, off the event loop, on one connection per call: this
    thread may wait hours for the next mail."""
    try:
        return function(*args, **kwargs)
    finally:
        connection.close()


class IntakeHandler:
    """aiosmtpd handler: recipients no event has are refused at RCPT, and
    each mail is taken in before the answer to DATA is sent."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        try:
            route = await sync_to_async(_in_thread)(mailin.route_find, [address])
        except Exception as e:
            logger.error("smtpd: recipient not checked: %s", type(e).__name__)
            return TRY_LATER
        if route is None:
            return UNKNOWN_RECIPIENT
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        try:
            outcome = await sync_to_async(_in_thread)(
                mailin.mail_receive,
                envelope.original_content,
                envelope_recipients=list(envelope.rcpt_tos),
            )
        except Exception as e:
            logger.error("smtpd: mail not taken in: %s", type(e).__name__)
            return TRY_LATER
        if outcome.quarantine:
            logger.warning("smtpd: mail refused (%s)", outcome.reason or "-")
            return REFUSED
        if outcome.reason == mailin.NO_ROUTE:  # the event went away since RCPT
            return UNKNOWN_RECIPIENT
        return ACCEPTED


def smtpd_controller(*, host: str, port: int) -> Controller:
    return Controller(
        IntakeHandler(),
        hostname=host,
        port=port,
        data_size_limit=settings.OMBUD_SMTPD_MAX_BYTES,
        enable_SMTPUTF8=True,
        ident="Ombud",
    )


class Command(BaseCommand):
    help = (
        "Receive mail for the team addresses over SMTP (OMBUD_MAIL_INTAKE=smtp) on "
        "OMBUD_SMTPD_HOST:OMBUD_SMTPD_PORT, until stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None, help="default: OMBUD_SMTPD_HOST")
        parser.add_argument("--port", type=int, default=None, help="default: OMBUD_SMTPD_PORT")

    def handle(self, *args, host=None, port=None, **options):
        if settings.OMBUD_MAIL_INTAKE != "smtp":
            raise CommandError("SMTP intake is off: set OMBUD_MAIL_INTAKE=smtp")
        host = host or settings.OMBUD_SMTPD_HOST
        port = port or settings.OMBUD_SMTPD_PORT
        # aiosmtpd logs every envelope's addresses at INFO: a reporter's address.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        controller = smtpd_controller(host=host, port=port)
        controller.start()
        self.stdout.write(f"receiving mail on {host}:{port}", ending="\n")
        self.stdout.flush()
        try:
            while not stop.wait(1):
                pass
        finally:
            controller.stop()
