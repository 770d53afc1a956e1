"""Reading a case's attachments: downloads and the case page's list."""

from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.http import Http404

from ombud.accounts.models import User
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.attachments import (
    METADATA_STRIPPED,
    TYPE_LABELS,
    case_field_open,
    image_metadata_strip,
)
from ombud.cases.models import Attachment, Case
from ombud.cases.services.keys import (
    ContentUndecryptable,
    case_data_key,
    content_integrity_failed,
)
from ombud.lib import crypto


def _metadata_cache_key(attachment) -> str:
    return f"ombud:attachment-metadata-stripped:{attachment.pk}"


def attachment_read(*, actor: User, case: Case, attachment_id, private_key: bytes):
    """A responder downloads an attachment of a case they hold a grant for.
    Returns (attachment, its name, the bytes to download): for JPEG, PNG and
    WebP a copy without metadata, or the original when that fails. Every
    download is an audit event; an id of another case's attachment is 404;
    a file that cannot be decrypted is ContentUndecryptable (and audited)."""

    attachment = (
        Attachment.objects.filter(case=case, pk=attachment_id)
        .select_related("message")
        .defer("message__body")
        .first()
    )
    if attachment is None:
        raise Http404("No such attachment.")
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    opened = []
    for blob, field in (
        (attachment.name, attachment.name_field),
        (attachment.content, attachment.content_field),
    ):
        try:
            opened.append(
                case_field_open(
                    case, blob, field=field, data_key=data_key, by_mail=attachment.arrived_by_mail
                )
            )
        except crypto.DecryptionError:
            content_integrity_failed(case=case, row=attachment, field=field, actor=actor)
            raise ContentUndecryptable from None
    name, data = opened
    clean = image_metadata_strip(attachment.content_type, data)
    if attachment.content_type in METADATA_STRIPPED:
        cache.set(_metadata_cache_key(attachment), clean is not None, None)
    with transaction.atomic():
        audit_log(
            organisation=case.organisation,
            type=AuditType.ATTACHMENT_DOWNLOADED,
            actor=actor,
            case=case,
            data={"attachment": str(attachment.pk)},
        )
    return attachment, name.decode(), data if clean is None else clean


@dataclass(frozen=True)
class AttachmentRow:
    """One line of the case page's list of attachments."""

    attachment: object
    name: str | None  # None: the name cannot be decrypted
    label: str
    # "removed" from the download, "failed" to remove (the original is
    # downloaded), "kept" because the type is downloaded as sent, or
    # "undecryptable": the file cannot be decrypted (nor downloaded).
    metadata: str


def attachment_rows(
    *, actor: User, case: Case, private_key: bytes, attachments
) -> list[AttachmentRow]:
    """The case page's list, from CaseContent.attachments. Whether a photo's
    metadata can be removed is learnt by removing it, once per photo: the
    answer (a yes or no, nothing of the photo) is kept in the cache by id."""

    data_key, rows = None, []
    for attachment, name in attachments:
        metadata = "kept"
        if name is None:
            metadata = "undecryptable"
        elif attachment.content_type in METADATA_STRIPPED:
            key = _metadata_cache_key(attachment)
            stripped = cache.get(key)
            if stripped is None:
                if data_key is None:
                    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
                try:
                    data = case_field_open(
                        case,
                        attachment.content,
                        field=attachment.content_field,
                        data_key=data_key,
                        by_mail=attachment.arrived_by_mail,
                    )
                except crypto.DecryptionError:
                    content_integrity_failed(
                        case=case, row=attachment, field=attachment.content_field, actor=actor
                    )
                    data = None
                if data is not None:
                    stripped = image_metadata_strip(attachment.content_type, data) is not None
                    cache.set(key, stripped, None)
            metadata = {True: "removed", False: "failed", None: "undecryptable"}[stripped]
        label = TYPE_LABELS.get(attachment.content_type, attachment.content_type)
        rows.append(AttachmentRow(attachment, name, label, metadata))
    return rows
