"""The team mailbox, polled over IMAP (OMBUD_MAIL_INTAKE=imap).

Each message, oldest first, goes to `mail_receive`, which commits before it
returns; only then is the message deleted, or moved to the quarantine folder
when it could not be taken in. A poller killed between the two fetches the
message again next time, and `mail_receive` knows it by its Message-ID: at
least once, never lost, never two cases.

Nothing here logs a message's content, its headers or the exception text of
a failure (both can quote the mail): only UIDs and exception class names."""

import logging
import ssl
from dataclasses import dataclass
from typing import cast

from django.conf import settings
from django.db import InterfaceError, OperationalError
from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessage

from ombud.intake import mailin

logger = logging.getLogger(__name__)

# Messages fetched per IMAP command: a few at a time, as each may be 30 MB.
BATCH = 5
TIMEOUT = 60  # seconds for the connection and for each IMAP command
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class UnsafeConnection(Exception):
    """OMBUD_IMAP_SECURITY=none for a server that is not this machine."""


class RawMessage(MailMessage):
    """A fetched message as its exact bytes. imap-tools parses every message
    it fetches; `mail_receive` wants the original, and parses it itself."""

    def __init__(self, fetch_data: list) -> None:
        self.raw, self._raw_uid_data, self._raw_flag_data = self._get_message_data_parts(fetch_data)


@dataclass
class PollResult:
    taken_in: int = 0  # handed to mail_receive and removed from the folder
    quarantined: int = 0
    error: str = ""  # the exception class that ended the poll early, if one did


def imap_connect() -> BaseMailBox:
    """A logged-in mailbox with the team folder selected, as configured."""
    host, port = settings.OMBUD_IMAP_HOST, settings.OMBUD_IMAP_PORT
    security = settings.OMBUD_IMAP_SECURITY
    box: BaseMailBox
    if security == "tls":
        box = MailBox(host, port, timeout=TIMEOUT, ssl_context=_ssl_context())
    elif security == "starttls":
        box = MailBoxStartTls(host, port, timeout=TIMEOUT, ssl_context=_ssl_context())
    elif security == "none" and host in LOCAL_HOSTS:
        box = MailBoxUnencrypted(host, port, timeout=TIMEOUT)
    else:
        raise UnsafeConnection
    box.email_message_class = RawMessage
    try:
        return box.login(
            settings.OMBUD_IMAP_USER,
            settings.OMBUD_IMAP_PASSWORD,
            initial_folder=settings.OMBUD_IMAP_FOLDER,
        )
    except Exception:
        box.client.shutdown()
        raise


def _ssl_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.OMBUD_IMAP_CA_FILE:
        context.load_verify_locations(cafile=settings.OMBUD_IMAP_CA_FILE)
    return context


def imap_poll(*, after_receive=None) -> PollResult:
    """Take in everything in the team folder. Never raises: a connection or
    IMAP failure is logged and ends the poll; the rest waits for the next.
    `after_receive()` runs after each `mail_receive` (a test hook)."""
    result = PollResult()
    try:
        with imap_connect() as box:
            for message in box.fetch(mark_seen=False, bulk=BATCH):
                if message.uid is None:
                    continue
                if _receive(cast(RawMessage, message), after_receive):
                    box.delete(message.uid)
                    result.taken_in += 1
                else:
                    _quarantine(box, message.uid)
                    result.quarantined += 1
    except (OperationalError, InterfaceError) as e:
        result.error = type(e).__name__
        logger.warning("mail poll stopped, database unavailable: %s", result.error)
    except UnsafeConnection:
        result.error = UnsafeConnection.__name__
        logger.error(
            "mail poll refused: OMBUD_IMAP_SECURITY=none sends the mailbox password "
            "in clear; it is only allowed for a server on this machine"
        )
    except Exception as e:  # connection, TLS, login or IMAP: never crash the worker
        result.error = type(e).__name__
        logger.warning("mail poll failed: %s (%s)", result.error, _server())
    if result.taken_in or result.quarantined:
        logger.info("mail poll: %s taken in, %s quarantined", result.taken_in, result.quarantined)
    return result


def _receive(message: RawMessage, after_receive) -> bool:
    """True when the message is taken in and may be deleted, False to
    quarantine it. A database that is down is no fault of the message: the
    poll stops and the mail waits in the folder."""
    try:
        outcome = mailin.mail_receive(message.raw)
    except (OperationalError, InterfaceError):
        raise
    except Exception as e:
        logger.error(
            "mail poll: message uid %s not taken in (%s); moving it to %s",
            message.uid,
            type(e).__name__,
            settings.OMBUD_IMAP_QUARANTINE_FOLDER,
        )
        try:
            mailin.mail_failed(message.raw)
        except Exception as e:  # telling the chairs must not stop the poll
            logger.error("mail poll: chairs not told of uid %s (%s)", message.uid, type(e).__name__)
        return False
    if after_receive is not None:
        after_receive()
    # Mail for no event (a Bcc, an alias no event has) was stored nowhere:
    # kept aside with the unreadable, never deleted.
    keep_aside = outcome.quarantine or outcome.reason == mailin.NO_ROUTE
    if keep_aside:
        logger.warning(
            "mail poll: message uid %s quarantined (%s)", message.uid, outcome.reason or "-"
        )
    return not keep_aside


def _quarantine(box: BaseMailBox, uid: str) -> None:
    folder = settings.OMBUD_IMAP_QUARANTINE_FOLDER
    if not box.folder.exists(folder):
        box.folder.create(folder)
    box.move(uid, folder)


def _server() -> str:
    return f"{settings.OMBUD_IMAP_HOST}:{settings.OMBUD_IMAP_PORT}"
