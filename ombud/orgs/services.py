from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.text import slugify

from ombud.accounts.models import Membership, Role
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.orgs.models import (
    EVENT_EDITABLE_FIELDS,
    ORGANISATION_SETTINGS_FIELDS,
    SEED_RESPONSES,
    Event,
    Organisation,
    ResponseType,
)


def _changes_apply(obj, fields: dict, allowed) -> list[str]:
    """Set the allowed fields whose value differs; returns their names, sorted,
    for the audit event."""
    changed = sorted(k for k in allowed if k in fields and getattr(obj, k) != fields[k])
    for name in changed:
        setattr(obj, name, fields[name])
    return changed


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
    with transaction.atomic():
        changed = _changes_apply(event, fields, EVENT_EDITABLE_FIELDS)
        event.full_clean()
        event.save()
        audit_log(
            organisation=event.organisation,
            type=AuditType.EVENT_UPDATED,
            actor=actor,
            data={"event": event.pk, "fields": changed},
        )
    return event


RESPONSE_TYPE_FIELDS = ["name", "severity", "retired"]


def response_type_create(*, actor, organisation, name: str, severity: int) -> ResponseType:
    if not actor.has_perm("orgs.manage_catalog", organisation):
        raise PermissionDenied
    with transaction.atomic():
        last = organisation.response_types.order_by("-position").first()
        response_type = ResponseType.objects.create(
            organisation=organisation,
            name=name,
            severity=severity,
            position=(last.position + 1) if last else 0,
        )
        audit_log(
            organisation=organisation,
            type=AuditType.RESPONSE_TYPE_CREATED,
            actor=actor,
            data={"response_type": response_type.pk},
        )
    return response_type


def response_type_update(*, actor, response_type, **fields) -> ResponseType:
    """Rename, re-grade or retire a response. Decisions that chose it keep it."""
    organisation = response_type.organisation
    if not actor.has_perm("orgs.manage_catalog", organisation):
        raise PermissionDenied
    with transaction.atomic():
        changed = _changes_apply(response_type, fields, RESPONSE_TYPE_FIELDS)
        response_type.save()
        audit_log(
            organisation=organisation,
            type=AuditType.RESPONSE_TYPE_UPDATED,
            actor=actor,
            data={"response_type": response_type.pk, "fields": changed},
        )
    return response_type


def organisation_settings_update(*, actor, organisation, **fields) -> Organisation:
    if not actor.has_perm("orgs.manage_settings", organisation):
        raise PermissionDenied
    if fields.get("require_mfa") and not organisation.require_mfa:
        from ombud.accounts.mfa import mfa_enabled

        if not mfa_enabled(actor):
            raise ServiceError(
                "Set up two-factor authentication for yourself first (Profile → "
                "Two-factor authentication), then require it for the team."
            )
    with transaction.atomic():
        changed = _changes_apply(organisation, fields, ORGANISATION_SETTINGS_FIELDS)
        organisation.save(update_fields=changed or None)
        audit_log(
            organisation=organisation,
            type=AuditType.ORGANISATION_SETTINGS_CHANGED,
            actor=actor,
            data={"fields": changed},
        )
    return organisation
