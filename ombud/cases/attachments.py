"""Attachments: checked by content, size-limited, encrypted like any field.

Limits (documented in the README): 10 MB each, 25 MB per report or message,
10 files. Accepted types, detected from the bytes and never from the name or
the claimed type: JPEG, PNG, GIF, WebP, PDF and plain text (but not text a
browser would take for HTML or XML).

Uploads are held in memory only (AttachmentUploadHandler): a temporary file
would be the one unencrypted copy of a reporter's photo on disk. Responders
download a copy of JPEG, PNG and WebP photos without their metadata (EXIF
with GPS, XMP, comments); the stored original keeps it, as evidence."""

import re
import unicodedata
from dataclasses import dataclass
from io import BytesIO
from urllib.parse import quote

from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler
from PIL import ExifTags, Image, ImageOps

from ombud.cases.models import Attachment
from ombud.lib import crypto
from ombud.lib.errors import ServiceError

MAX_BYTES = 10 * 1024 * 1024
MAX_TOTAL = 25 * 1024 * 1024
MAX_FILES = 10
NAME_MAX = 200

_MAGIC = [
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
]

EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
}


# The starts by which browsers sniff a file as HTML or XML (WHATWG MIME
# Sniffing, "identifying a resource with an unknown MIME type"), and SVG.
_MARKUP = re.compile(
    rb"<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|"
    rb"!--|\?xml|svg)(?:[\s>/]|$)",
    re.IGNORECASE,
)


def content_type_detect(data: bytes) -> str | None:
    """The type the bytes really are, or None when we do not take it."""
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if b"\0" not in data[:8192]:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        # Served only as a text/plain download, HTML would be harmless; but a
        # report has no need of it, and refusing it leaves nothing to get wrong.
        if _MARKUP.match(data.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n\x0c")):
            return None
        return "text/plain"
    return None


@dataclass(frozen=True)
class Upload:
    """A checked file, ready to store."""

    name: str
    content_type: str
    data: bytes


def attachments_validate(files: list[tuple[str, bytes]]) -> list[Upload]:
    """Check files given as (name, bytes). ServiceError says what is wrong
    with which file; nothing is stored then."""
    if len(files) > MAX_FILES:
        raise ServiceError(f"At most {MAX_FILES} files can be attached.")
    checked, total = [], 0
    for name, data in files:
        name = "".join(ch for ch in (name or "") if ch.isprintable()).strip()[:NAME_MAX] or "file"
        if not data:
            raise ServiceError(f"“{name}” is empty.")
        if len(data) > MAX_BYTES:
            raise ServiceError(_too_large(name))
        total += len(data)
        if total > MAX_TOTAL:
            raise ServiceError(TOTAL_TOO_LARGE)
        content_type = content_type_detect(data)
        if content_type is None:
            raise ServiceError(
                f"“{name}” is not a type we accept: photos (JPEG, PNG, GIF, WebP), PDF or text."
            )
        checked.append(Upload(name=name, content_type=content_type, data=data))
    return checked


def _too_large(name: str) -> str:
    return f"“{name}” is larger than {MAX_BYTES // 1024 // 1024} MB."


TOTAL_TOO_LARGE = f"The files together are larger than {MAX_TOTAL // 1024 // 1024} MB."


# --- receiving uploads ----------------------------------------------------------


class AttachmentUploadHandler(MemoryFileUploadHandler):
    """Holds uploaded files in memory, never in a temporary file (settings.
    FILE_UPLOAD_HANDLERS). The files beyond MAX_TOTAL are read and dropped,
    each leaving an empty stand-in that `attachments_from_uploaded` refuses
    with the reason: the form comes back with the reporter's text still in
    it, and memory stays bounded. A body over FILE_UPLOAD_MAX_MEMORY_SIZE
    keeps none of its files at all, but is still read to its end for the
    text (the text fields have their own limit, DATA_UPLOAD_MAX_MEMORY_SIZE)."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.activated = True
        self.received = 0
        too_big = (
            content_length is not None and content_length > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
        )
        self.keep = 0 if too_big else MAX_TOTAL

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received <= self.keep:
            self.file.write(raw_data)
        return None

    def file_complete(self, file_size):
        upload = super().file_complete(file_size)
        if upload is not None and self.received > self.keep:
            upload.file = BytesIO()
            upload.over_limit = True  # type: ignore[attr-defined]  # read by attachments_from_uploaded
        return upload


def attachments_from_uploaded(files) -> list[Upload]:
    """Read and check the files a form received (Django's uploaded files)."""
    for f in files:
        if getattr(f, "over_limit", False):
            raise ServiceError(_too_large(f.name) if f.size > MAX_BYTES else TOTAL_TOO_LARGE)
    return attachments_validate([(f.name, f.read()) for f in files])


def attachments_store(*, case, uploads, data_key=None, submission=None, message=None):
    """Store checked uploads on a case, inside the caller's transaction. With
    the case key they are encrypted under it; without (mail answering a case)
    they are sealed to the case inbox."""

    stored = []
    for upload in uploads:
        attachment = Attachment(
            case=case,
            submission=submission,
            message=message,
            content_type=upload.content_type,
            size=len(upload.data),
        )
        attachment.name = case_field_seal(
            case, upload.name.encode(), field=attachment.name_field, data_key=data_key
        )
        attachment.content = case_field_seal(
            case, upload.data, field=attachment.content_field, data_key=data_key
        )
        attachment.save(force_insert=True)
        stored.append(attachment)
    return stored


def case_field_seal(case, plaintext: bytes, *, field: str, data_key=None) -> bytes:
    if data_key is not None:
        return crypto.field_encrypt(data_key, plaintext, case_id=case.pk, field=field)
    if case.inbox_public_key is None:
        raise ServiceError("This case cannot take content by mail.")
    return crypto.inbox_seal(case.inbox_public_key, plaintext, case_id=case.pk, field=field)


def case_field_open(
    case, blob: crypto.Blob, *, field: str, data_key: bytes, by_mail: bool = False
) -> bytes:
    """Open a field encrypted under the case key. Content sealed to the case
    inbox opens only `by_mail`: for a message that arrived by mail from the
    reporter and its files (Message.arrived_by_mail). Anyone can seal to the
    inbox, its public key is stored in plain; so anywhere else such content
    is refused (DecryptionError), never shown as someone's words."""
    if by_mail and crypto.is_inbox_sealed(blob):
        inbox_key = crypto.field_decrypt(
            data_key, case.inbox_private_box, case_id=case.pk, field="inbox-key"
        )
        return crypto.inbox_open(inbox_key, blob, case_id=case.pk, field=field)
    return crypto.field_decrypt(data_key, blob, case_id=case.pk, field=field)


def case_inbox_new(case, data_key: bytes) -> None:
    """Give a case its inbox key pair (not saved: the caller saves the case)."""
    public, private = crypto.keypair_new()
    case.inbox_public_key = public
    case.inbox_private_box = crypto.field_encrypt(
        data_key, private, case_id=case.pk, field="inbox-key"
    )


# --- downloading -------------------------------------------------------------------

TYPE_LABELS = {
    "image/jpeg": "JPEG image",
    "image/png": "PNG image",
    "image/gif": "GIF image",
    "image/webp": "WebP image",
    "application/pdf": "PDF document",
    "text/plain": "Text",
}
# The photos whose downloaded copy goes without metadata, with Pillow's format.
METADATA_STRIPPED = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# What a re-saved image keeps besides its pixels: how to draw it, nothing of
# where, when or with what it was taken.
_IMAGE_INFO_KEPT = ("transparency", "icc_profile", "duration", "loop", "background")
# Larger pictures (about 4 bytes a pixel once decoded) are not re-encoded.
MAX_PIXELS = 64_000_000


def image_metadata_strip(content_type: str, data: bytes) -> bytes | None:
    """A copy of a JPEG, PNG or WebP picture without its metadata: turned as
    its EXIF orientation says, then its pixels saved again without EXIF (GPS,
    camera, time), XMP, text chunks or comments. None for other types, and
    for a picture that cannot be decoded and encoded again."""
    image_format = METADATA_STRIPPED.get(content_type)
    if image_format is None:
        return None
    try:
        with Image.open(BytesIO(data), formats=[image_format]) as image:
            if image.width * image.height > MAX_PIXELS:
                return None
            return _image_resave(image, image_format, data)
    except Exception:
        # A corrupt or truncated picture fails in many ways (OSError,
        # ValueError, SyntaxError, struct.error, ...): all mean the same here.
        return None


def _image_resave(image, image_format: str, data: bytes) -> bytes:
    kept = {key: value for key, value in image.info.items() if key in _IMAGE_INFO_KEPT}
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    # A JPEG is one picture (an MPO's further frames are other pictures, with
    # EXIF of their own); PNG and WebP may be animated.
    animated = image_format != "JPEG" and getattr(image, "n_frames", 1) > 1
    params: dict[str, object] = {}
    if image.format == "JPEG" and orientation == 1:
        image.load()
        clean, params = image, {"quality": "keep"}  # the original's tables: no loss
    elif animated:
        clean, params = image, {"save_all": True}
    else:
        clean = ImageOps.exif_transpose(image)
        if image_format == "JPEG":
            params = {"quality": 95}
    if image_format == "WEBP":
        lossless = _webp_lossless(data)
        params |= {"lossless": lossless, "quality": 100 if lossless else 90}
        params |= {"loop": kept.get("loop", 0)} if animated else {}
    if kept.get("icc_profile"):
        params["icc_profile"] = kept["icc_profile"]
    clean.info = kept
    out = BytesIO()
    clean.save(out, image_format, **params)
    return out.getvalue()


def _webp_lossless(data: bytes) -> bool:
    """Whether a WebP's first picture is lossless (a VP8L chunk), so that the
    copy is saved lossless too and a screenshot's text stays sharp."""
    offset = 12
    while offset + 8 <= len(data):
        fourcc = data[offset : offset + 4]
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        if fourcc in (b"VP8L", b"VP8 "):
            return fourcc == b"VP8L"
        # An animation frame's chunks are inside it, after its 16-byte header.
        offset += 8 + (16 if fourcc == b"ANMF" else size + (size & 1))
    return False


_NAME_UNSAFE = '\\/:*?"<>|'


def download_filenames(name: str, content_type: str) -> tuple[str, str]:
    """The name to save a download under, and its ASCII fallback: on one
    line, without path or quote characters, and with the extension of the
    type the file really is (a PNG called x.pdf downloads as x.png)."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", unicodedata.normalize("NFC", name))
    stem = "".join(ch if ch.isprintable() and ch not in _NAME_UNSAFE else "_" for ch in stem)
    stem = stem.strip(" ._")[:100]
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    ascii_stem = re.sub(r"[^A-Za-z0-9 ._()-]+", "_", ascii_stem).strip(" ._")
    extension = EXTENSIONS.get(content_type, "")
    return (stem or "attachment") + extension, (ascii_stem or "attachment") + extension


def content_disposition(name: str, content_type: str) -> str:
    """`attachment` with both the ASCII name and the full one (RFC 6266 and
    RFC 5987): the browser saves the file and never shows it in the page."""
    full, fallback = download_filenames(name, content_type)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(full, safe='')}"
