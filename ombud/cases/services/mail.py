import base64
import re
import secrets
from email.utils import parseaddr

from django.conf import settings

from ombud.cases.attachments import case_inbox_new
from ombud.cases.models import Case, MailThreadRef
from ombud.lib import crypto

MAIL_TAG_BYTES = 10  # 80 random bits: 16 base32 characters


def mail_tag_lookup(tag: str) -> bytes:
    return crypto.token_hash("mail-tag", tag.strip().upper().encode())


def mail_thread_lookup(message_id: str) -> bytes:
    """Keyed hash of a Message-ID as `ombud.intake.mail.message_id_normalise` gives it."""
    return crypto.token_hash("mail-thread", message_id.encode())


def case_mail_tag(*, case: Case, data_key: bytes | None = None) -> str:
    """The case's secret mail tag, made on first use inside the caller's
    transaction. It is random, never the case number: whoever knows it can add
    mail to the case. A case from before the inbox existed gets its inbox
    too (which needs the case key), since replies are sealed to it."""
    if case.mail_tag_box:
        return crypto.secretbox_open(crypto.pepper_key("mail-tag"), case.mail_tag_box).decode()
    tag = base64.b32encode(secrets.token_bytes(MAIL_TAG_BYTES)).decode()
    case.mail_tag_lookup = mail_tag_lookup(tag)
    case.mail_tag_box = crypto.secretbox_seal(crypto.pepper_key("mail-tag"), tag.encode())
    fields = ["mail_tag_lookup", "mail_tag_box"]
    if case.inbox_public_key is None and data_key is not None:
        case_inbox_new(case, data_key)
        fields += ["inbox_public_key", "inbox_private_box"]
    case.save(update_fields=fields)
    return tag


def mail_message_id_new(*, case: Case) -> str:
    """A Message-ID for mail we send about a case, recorded (as a keyed hash)
    so that a reply naming it joins the case. Random like the tag, for the
    same reason."""

    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2].lower()
    if not re.fullmatch(r"[a-z0-9.-]{1,200}", domain):
        domain = "ombud.invalid"
    message_id = f"{secrets.token_hex(16)}@{domain}"
    MailThreadRef.objects.create(case=case, lookup=mail_thread_lookup(message_id))
    return f"<{message_id}>"
