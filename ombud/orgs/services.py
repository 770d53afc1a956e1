from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.text import slugify

from ombud.accounts.models import Membership, Role
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.lib import crypto
from ombud.orgs.models import (
    EVENT_EDITABLE_FIELDS,
    SEED_RESPONSES,
    Event,
    Organisation,
    ResponseType,
)


def organisation_create(*, name: str, slug: str, chair) -> tuple[Organisation, str]:
    """Create an organisation with its recovery key pair and standing event.

    Returns the organisation and its recovery kit text, which is shown to the
    chair once and never stored: only the public half is kept."""
    public_key, private_key = crypto.keypair_new()
    with transaction.atomic():
        organisation = Organisation.objects.create(
            name=name, slug=slug, recovery_public_key=public_key
        )
        Membership.objects.create(user=chair, organisation=organisation, role=Role.CHAIR)
        ResponseType.objects.bulk_create(
            ResponseType(organisation=organisation, name=label, severity=severity, position=i)
            for i, (label, severity) in enumerate(SEED_RESPONSES)
        )
        Event.objects.create(
            organisation=organisation,
            name=f"{name} (online spaces and anywhere else)",
            slug="general",
            is_standing=True,
        )
        audit_log(
            organisation=organisation,
            type=AuditType.ORGANISATION_CREATED,
            actor=chair,
            data={"chair": chair.pk},
        )
    return organisation, crypto.recovery_kit_encode(organisation.pk, private_key)


def event_create(*, actor, organisation, **fields) -> Event:
    if not actor.has_perm("orgs.manage_events", organisation):
        raise PermissionDenied
    fields.setdefault("slug", slugify(fields["name"])[:60])
    with transaction.atomic():
        event = Event(
            organisation=organisation,
            **{k: fields[k] for k in fields if k in EVENT_EDITABLE_FIELDS},
        )
        event.full_clean()
        event.save()
        audit_log(
            organisation=organisation,
            type=AuditType.EVENT_CREATED,
            actor=actor,
            data={"event": event.pk},
        )
    return event


def event_update(*, actor, event, **fields) -> Event:
    if not actor.has_perm("orgs.manage_events", event.organisation):
        raise PermissionDenied
    changed = sorted(
        k for k in fields if k in EVENT_EDITABLE_FIELDS and getattr(event, k) != fields[k]
    )
    with transaction.atomic():
        for name in changed:
            setattr(event, name, fields[name])
        event.full_clean()
        event.save()
        audit_log(
            organisation=event.organisation,
            type=AuditType.EVENT_UPDATED,
            actor=actor,
            data={"event": event.pk, "fields": changed},
        )
    return event
