"""Reading one raw email (DESIGN §8): the stdlib parser with `policy.default`,
made to survive whatever arrives. `mail_parse` never raises: what cannot be
read sets `unreadable`, and every header is read on its own so a broken one
costs only itself.

Nothing here touches the database; ombud.intake.mailin decides what the mail
becomes. How each kind of mail in the test corpus is handled is listed in
ombud/intake/tests/mail/README.md.

Decisions: text longer than TEXT_MAX characters is kept up to that length
with a note saying so (a report is never lost for being long). A mailing
list post (List-Id, Precedence: list) becomes a case without an automatic
reply: team addresses are often groups, and ignoring their mail would lose
reports. A forwarded message is a text file and is kept like one; other
refused files are named in the case text, and the case is created anyway.
"""

import codecs
import hashlib
import html
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

import nh3
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

TEXT_MAX = 200_000  # characters of mail text kept
HTML_MAX = 4 * TEXT_MAX  # characters of HTML read (its tags make it longer)
SUBJECT_MAX = 500
NAME_MAX = 200
THREAD_IDS_MAX = 50
TRUNCATED_NOTE = f"\n\n[The mail was longer: its text was cut at {TEXT_MAX:,} characters.]"

RECIPIENT_HEADERS = ("X-Original-To", "Delivered-To", "To", "Cc")
_ANGLE_ADDRESS = re.compile(r"<([^<>\s]+@[^<>\s]+)>")
_MSGID = re.compile(r"<([^<>\s]{1,250})>")
# Our reply subjects carry the case tag as [#TAG]: 16 base32 characters.
TAG_PATTERN = re.compile(r"(?<![A-Za-z0-9])#([A-Za-z2-7]{16})(?![A-Za-z0-9])")
# A receipt (ombud.lib.crypto.receipt_new) quoted back from our auto-reply:
# blanked out, so the team never learns a reporter's receipt.
RECEIPT_PATTERN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z2-7]{4}(?:-[A-Za-z2-7]{4}){7}(?![A-Za-z0-9])")
_BLOCK_TAGS = re.compile(
    r"<\s*br\s*/?\s*>|<\s*/\s*(?:p|div|li|tr|h[1-6]|table|blockquote|pre|ul|ol)\s*>", re.I
)
# Charsets mail declares that are really their superset in practice (WHATWG).
_CHARSET_ALIASES = {
    "iso-8859-1": "windows-1252",
    "latin1": "windows-1252",
    "latin-1": "windows-1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "iso-8859-9": "windows-1254",
    "tis-620": "cp874",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class ParsedMail:
    message_id: str = ""  # without the angle brackets; "" when missing
    sender: str = ""  # a valid address, or ""
    sender_name: str = ""
    subject: str = ""
    text: str = ""
    truncated: bool = False
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    thread_ids: list[str] = field(default_factory=list)  # In-Reply-To, then References
    recipients: list[str] = field(default_factory=list)
    auto: str = ""  # why it is automatic mail ("" for a person's mail)
    no_reply: str = ""  # why it gets no automatic answer though it is a person's
    return_path_empty: bool = False
    unreadable: str = ""  # why it could not be read ("" when it could)
    raw_digest: bytes = b""

    @property
    def dedup_key(self) -> bytes:
        return self.message_id.encode() if self.message_id else self.raw_digest


def one_line(value: str, limit: int) -> str:
    """A header value as one line of printable text: CR, LF and other control
    characters become spaces, so nothing a sender wrote can start a header."""
    value = "".join(ch if ch.isprintable() else " " for ch in str(value or ""))
    return " ".join(value.split())[:limit]


def address_valid(address: str) -> str:
    """The address if it is one we could write to, else ""."""
    address = (address or "").strip()
    if not address or any(ch in address for ch in "\r\n\t <>\"',;") or len(address) > 254:
        return ""
    try:
        validate_email(address)
    except ValidationError:
        return ""
    return address


def message_id_normalise(value: str) -> str:
    """A Message-ID without brackets or spaces, or "" when it is not one."""
    value = (value or "").strip()
    found = _MSGID.search(value)
    value = found.group(1) if found else value.strip("<>")
    if not value or len(value) > 250 or not all("!" <= ch <= "~" for ch in value):
        return ""
    return value


def _raw_decoded(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        return str(value)


def _raw_values(msg, name: str) -> list[str]:
    """A header's values without the policy's parsing, which raises on some
    hostile values (an encoded CR/LF in an address's display name)."""
    try:
        return [v for k, v in msg.raw_items() if k.lower() == name.lower()]
    except Exception:
        return []


def _header(msg, name: str) -> str:
    try:
        return " ".join(str(v) for v in msg.get_all(name) or [])
    except Exception:
        return " ".join(_raw_decoded(v) for v in _raw_values(msg, name))


def _addresses(msg, name: str) -> list[tuple[str, str]]:
    try:
        return [
            (a.display_name, a.addr_spec)
            for header in msg.get_all(name) or []
            for a in header.addresses
        ]
    except Exception:
        # Read the <address> parts by hand: getaddresses takes the ":" of an
        # encoded-word display name for a group.
        pairs = []
        for value in _raw_values(msg, name):
            angled = _ANGLE_ADDRESS.findall(value)
            if angled:
                display = _raw_decoded(value[: value.find("<")].strip().strip('"'))
                pairs += [(display, address) for address in angled]
            else:
                pairs += getaddresses([value])
        return pairs


def charset_decode(data: bytes, charset: str | None) -> str:
    """Text in any charset, never an exception: unknown charsets and bad bytes
    are read as UTF-8 with replacement characters."""
    name = (charset or "").strip().strip('"').lower()
    name = _CHARSET_ALIASES.get(name, name)
    if not name or name == "utf-8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            # Undeclared 8-bit text: most often windows-1252.
            return data.decode("utf-8" if name else "windows-1252", errors="replace")
    try:
        codecs.lookup(name)
    except LookupError:
        return data.decode("utf-8", errors="replace")
    return data.decode(name, errors="replace")


def text_clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def html_to_text(markup: str) -> str:
    """Readable text from HTML: script, style and tags gone, entities decoded."""
    markup = _BLOCK_TAGS.sub("\n", markup[:HTML_MAX])
    text = nh3.clean(markup, tags=set(), clean_content_tags={"script", "style", "title"})
    text = html.unescape(text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _payload(part) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        payload = part.get_payload()
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    return data


def _filename(part, default: str) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    return one_line(name, NAME_MAX) or default


class _Body:
    def __init__(self):
        self.plain: list[str] = []
        self.html: list[str] = []
        self.attachments: list[tuple[str, bytes]] = []


def _walk(part, body: _Body, depth: int = 0) -> None:
    content_type = part.get_content_type()
    if depth > 20:  # a bomb of nested parts: read no deeper
        return
    if content_type == "message/rfc822":
        try:
            inner = part.get_payload(0).as_bytes(policy=policy.SMTP)
        except Exception:
            inner = _payload(part)
        body.attachments.append((_filename(part, "forwarded.eml"), inner))
        return
    if content_type.startswith("multipart/") and not part.is_multipart():
        # Its boundary never appears: the parser keeps the body as one text.
        body.plain.append(charset_decode(_payload(part), None))
        return
    if part.is_multipart():
        children = part.get_payload()
        if not isinstance(children, list):
            return
        if content_type == "multipart/alternative":
            # One of the alternatives is the text: plain text if any has it,
            # else the last (richest) HTML; files inside any of them count.
            results = []
            for child in children:
                result = _Body()
                _walk(child, result, depth + 1)
                results.append(result)
                body.attachments += result.attachments
            # A blank text part (some clients send one) must not hide the HTML.
            with_plain = [r for r in results if any(t.strip() for t in r.plain)]
            if with_plain:
                body.plain += with_plain[0].plain
            else:
                with_html = [r for r in results if r.html]
                if with_html:
                    body.html += with_html[-1].html
            return
        for child in children:
            _walk(child, body, depth + 1)
        return
    try:
        disposition = part.get_content_disposition()
    except Exception:
        disposition = None
    is_text = content_type in ("text/plain", "text/html")
    if disposition == "attachment" or not is_text:
        extension = content_type.split("/")[-1] if "/" in content_type else "bin"
        body.attachments.append((_filename(part, f"attachment.{extension}"), _payload(part)))
        return
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text = charset_decode(_payload(part), charset)
    (body.html if content_type == "text/html" else body.plain).append(text)


def mail_parse(raw: bytes) -> ParsedMail:
    """Read one raw message. Never raises."""
    mail = ParsedMail(raw_digest=hashlib.sha256(raw).digest())
    try:
        msg: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception:
        mail.unreadable = "unparseable"
        return mail
    try:
        has_headers = bool(msg.keys())
    except Exception:
        has_headers = False
    if not has_headers:
        mail.unreadable = "no headers"
        return mail

    for name in RECIPIENT_HEADERS:
        for _, address in _addresses(msg, name):
            address = address_valid(address)
            if address and address.lower() not in (r.lower() for r in mail.recipients):
                mail.recipients.append(address)

    mail.message_id = message_id_normalise(_header(msg, "Message-ID"))
    senders = _addresses(msg, "From")
    if senders:
        name, address = senders[0]
        if not address:  # a From the header parser gave up on
            name, address = parseaddr(_header(msg, "From"))
        mail.sender = address_valid(address)
        mail.sender_name = one_line(name, NAME_MAX) if mail.sender else ""
    mail.subject = one_line(_header(msg, "Subject"), SUBJECT_MAX)
    for name in ("In-Reply-To", "References"):
        for found in _MSGID.findall(_header(msg, name)):
            normalised = message_id_normalise(found)
            if normalised and normalised not in mail.thread_ids:
                mail.thread_ids.append(normalised)
    del mail.thread_ids[THREAD_IDS_MAX:]
    mail.auto = _auto_reason(msg, mail)
    mail.no_reply = _no_reply_reason(msg)

    try:
        body = _Body()
        _walk(msg, body)
    except Exception:
        mail.unreadable = "body unreadable"
        return mail
    if body.plain:
        text = "\n\n".join(text_clean(t).strip() for t in body.plain)
    else:
        text = "\n\n".join(html_to_text(text_clean(t)) for t in body.html)
    text = text.strip()
    if len(text) > TEXT_MAX:
        text, mail.truncated = text[:TEXT_MAX], True
    mail.text = RECEIPT_PATTERN.sub("[receipt removed]", text)
    mail.subject = RECEIPT_PATTERN.sub("[receipt removed]", mail.subject)
    mail.attachments = body.attachments
    return mail


def _auto_reason(msg, mail: ParsedMail) -> str:
    """Why this is mail no person wrote (answering it could loop), or ""."""
    auto_submitted = _header(msg, "Auto-Submitted").strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return "auto-submitted"
    if _header(msg, "Precedence").strip().lower() in ("bulk", "junk", "auto_reply"):
        return "bulk"
    if any(_header(msg, h).strip() for h in ("X-Autoreply", "X-Autorespond", "X-Autogenerated")):
        return "auto-reply"
    try:
        content_type = msg.get_content_type()
    except Exception:
        content_type = ""
    if content_type == "multipart/report":
        return "bounce"
    return_path = _header(msg, "Return-Path").strip()
    if return_path and return_path.replace(" ", "") in ("<>", ""):
        return "bounce"
    local = mail.sender.split("@")[0].lower() if mail.sender else ""
    if local in ("mailer-daemon", "postmaster"):
        return "bounce"
    if not mail.sender:
        raw_from = _header(msg, "From").lower()
        if "mailer-daemon" in raw_from:
            return "bounce"
    return ""


def _no_reply_reason(msg) -> str:
    """Why a person's mail gets no automatic answer (it went to a list)."""
    if _header(msg, "Precedence").strip().lower() == "list":
        return "list"
    if _header(msg, "List-Id").strip():
        return "list"
    return ""


def tags_in(subject: str, recipients: list[str]) -> list[str]:
    """Case tags in the subject ([#TAG]) and in plus-addresses (team+TAG@...)."""
    tags = [t.upper() for t in TAG_PATTERN.findall(subject or "")]
    for address in recipients:
        local = address.split("@")[0]
        if "+" in local:
            candidate = local.split("+", 1)[1].upper()
            if re.fullmatch(r"[A-Z2-7]{16}", candidate):
                tags.append(candidate)
    return list(dict.fromkeys(tags))


def address_base(address: str) -> str:
    """team+tag@example.org -> team@example.org, lower-cased."""
    local, _, domain = address.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if local else address.strip().lower()
