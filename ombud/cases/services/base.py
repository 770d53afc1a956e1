from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email

from ombud.accounts.models import User
from ombud.cases.models import (
    TRANSITIONS,
    Case,
    Status,
)
from ombud.lib.errors import ServiceError

MESSAGE_MAX = 20_000


def contact_email(contact: str) -> str | None:
    """The reporter's contact if it is an email address we can write to."""
    contact = (contact or "").strip()
    try:
        validate_email(contact)
    except ValidationError:
        return None
    return contact


def message_validate(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ServiceError("The message is empty.")
    if len(body) > MESSAGE_MAX:
        raise ServiceError(f"The message is too long: at most {MESSAGE_MAX:,} characters.")
    return body


def permission_require(actor: User, permission: str, case: Case) -> None:
    if not actor.has_perm(permission, case):
        raise PermissionDenied


def status_set(case: Case, status: str) -> str:
    """Move the case on, or refuse with a message a responder can act on."""
    if status == case.status:
        return status
    if status not in TRANSITIONS[Status(case.status)]:
        raise ServiceError(
            f"A case that is “{case.get_status_display().lower()}” cannot become "
            f"“{Status(status).label.lower()}”."
        )
    previous = case.status
    case.status = status
    case.save(update_fields=["status", "updated_at"])
    return previous
