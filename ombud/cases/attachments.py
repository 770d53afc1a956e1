"""Attachments: checked by content, size-limited, encrypted like any field.

Limits (documented in the README): 10 MB each, 25 MB per report or message,
10 files. Accepted types, detected from the bytes and never from the name or
the claimed type: JPEG, PNG, GIF, WebP, PDF and plain text."""

from dataclasses import dataclass

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
            raise ServiceError(f"“{name}” is larger than {MAX_BYTES // 1024 // 1024} MB.")
        total += len(data)
        if total > MAX_TOTAL:
            raise ServiceError(
                f"The files together are larger than {MAX_TOTAL // 1024 // 1024} MB."
            )
        content_type = content_type_detect(data)
        if content_type is None:
            raise ServiceError(
                f"“{name}” is not a type we accept: photos (JPEG, PNG, GIF, WebP), PDF or text."
            )
        checked.append(Upload(name=name, content_type=content_type, data=data))
    return checked


def attachments_store(*, case, uploads, data_key=None, submission=None, message=None):
    """Store checked uploads on a case, inside the caller's transaction. With
    the case key they are encrypted under it; without (mail answering a case)
    they are sealed to the case inbox."""
    from ombud.cases.models import Attachment

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


def case_field_open(case, blob: bytes, *, field: str, data_key: bytes) -> bytes:
    """Open a field encrypted under the case key or sealed to the case inbox."""
    if crypto.is_inbox_sealed(blob):
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
