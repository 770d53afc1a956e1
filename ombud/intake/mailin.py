"""Email intake (DESIGN §8): one raw message in, one case or one message on a
case or a logged rejection out. The transports (IMAP poller, anymail inbound
webhook, `manage.py smtpd`) all call `mail_receive` and do nothing else with
the content."""

from dataclasses import dataclass


@dataclass(frozen=True)
class MailOutcome:
    outcome: str  # an InboundMail.Outcome value
    case_id: object = None  # the case created or answered, if any
    # True when the message could not be processed at all (unparseable): the
    # transport keeps it aside (IMAP: moves it to the quarantine folder) instead
    # of deleting it. Everything else may be deleted from the mailbox.
    quarantine: bool = False
    reason: str = ""  # short, content-free, safe to log

    @property
    def duplicate(self) -> bool:
        return self.reason == "duplicate"


def mail_receive(raw: bytes, *, envelope_recipients: list[str] | None = None) -> MailOutcome:
    """Take in one raw RFC 5322 message. Commits before returning; the caller
    deletes the mail from its mailbox only after this returns. Never raises for
    bad mail: returns an outcome (rejections and quarantines are logged without
    content). `envelope_recipients` (SMTP RCPT TO, a webhook's envelope) route
    the mail when given; otherwise the To/Cc/Delivered-To headers do."""
    raise NotImplementedError  # written by the mail-intake helper
