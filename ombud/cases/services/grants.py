"""Giving a team member access to cases (DESIGN §5, issue 4).

Access is a Grant row: the case key sealed to the member's public key. Only
someone who can open the case key can make one: a responder who holds the
case (with the private key unlocked in their session), or the chair with the
organisation's recovery kit (ombud.cases.services.recovery). Access is never given
silently: every new grant is an audit event.

The rules, the same whoever grants:
- the member must belong to the organisation and have a key pair;
- a member the reporter excluded never gets access;
- a member who recused themselves gets access again only from someone else,
  and that lifts the recusal (audited);
- a pending access row (the member reset their password) is settled by it.
"""

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from ombud.accounts.models import User
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.models import Case, Exclusion, Grant, PendingAccess, Status
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.orgs.models import Membership, Organisation

SCOPE_CASE = "case"
SCOPE_EVENT = "event"
SCOPE_ALL = "all"
SCOPES = [
    (SCOPE_CASE, "This case only"),
    (SCOPE_EVENT, "All open cases of this event that you hold"),
    (SCOPE_ALL, "All cases you hold"),
]


@dataclass
class GrantResult:
    granted: list = field(default_factory=list)  # cases newly opened to the member
    already: list = field(default_factory=list)  # cases they could open already
    excluded: list = field(default_factory=list)  # skipped: the reporter excluded them
    recused: list = field(default_factory=list)  # skipped (recovery kit): they recused
    recusal_lifted: list = field(default_factory=list)

    def summary(self, grantee) -> str:
        parts = []
        if self.granted:
            parts.append(f"{grantee} now has access to {_cases_text(self.granted)}.")
        if self.recusal_lifted:
            parts.append(f"Their recusal from {_cases_text(self.recusal_lifted)} is lifted.")
        if self.already:
            parts.append(f"They already had access to {_cases_text(self.already)}.")
        if self.excluded:
            parts.append(
                f"Not given access to {_cases_text(self.excluded)}: "
                "the reporter excluded them from it."
            )
        if self.recused:
            parts.append(
                f"Not given access to {_cases_text(self.recused)}: they recused themselves from it."
            )
        return " ".join(parts)


def _cases_text(cases) -> str:
    numbers = sorted(c.number for c in cases)
    if len(numbers) == 1:
        return f"case #{numbers[0]}"
    if len(numbers) > 10:
        return f"{len(numbers)} cases"
    return "cases " + ", ".join(f"#{n}" for n in numbers)


def grantable_members(*, organisation: Organisation):
    """Members who can be given access: in the organisation, active, with a key pair."""
    return (
        User.objects.filter(
            memberships__organisation=organisation, is_active=True, public_key__isnull=False
        )
        .order_by("display_name", "email")
        .distinct()
    )


def grantee_check(*, organisation: Organisation, grantee: User) -> None:
    if not Membership.objects.filter(organisation=organisation, user=grantee).exists():
        raise ServiceError(f"{grantee} is not a member of {organisation}.")
    if not grantee.is_active or grantee.public_key is None:
        raise ServiceError(
            f"{grantee} has no key pair yet (they have not set a password); "
            "access can be given once they have."
        )


def cases_in_scope(*, actor: User, case: Case, scope: str) -> list[Case]:
    """The cases a grant from `case`'s page covers: the case, the open cases of
    its event the actor holds, or every case the actor holds."""
    held = Case.objects.filter(organisation_id=case.organisation_id, grants__user=actor)
    if scope == SCOPE_CASE:
        return [case]
    if scope == SCOPE_EVENT:
        return list(held.filter(event_id=case.event_id).exclude(status=Status.CLOSED))
    if scope == SCOPE_ALL:
        return list(held)
    raise ServiceError("Choose which cases to give access to.")


@sensitive_variables("private_key", "data_key")
def access_grant(*, actor: User, private_key: bytes, grantee: User, cases, scope: str = SCOPE_CASE):
    """A responder who holds the cases gives `grantee` access to them, in one
    transaction. `scope` only decides how strict to be: a single case the
    member is excluded from is refused; a bulk grant skips it."""
    cases = list(cases)
    if not cases:
        raise ServiceError("There is no case to give access to.")
    organisation = cases[0].organisation
    for case in cases:
        if case.organisation_id != organisation.pk or not actor.has_perm(
            "cases.grant_access", case
        ):
            raise PermissionDenied
    wraps = dict(
        Grant.objects.filter(user=actor, case__in=cases).values_list("case_id", "wrapped_key")
    )

    def open_key(case):
        try:
            return crypto.data_key_unseal(private_key, wraps[case.pk])
        except (KeyError, crypto.DecryptionError):
            raise ServiceError(
                f"Your key does not open case #{case.number}; log in again and retry."
            ) from None

    return grants_write(
        actor=actor,
        organisation=organisation,
        grantee=grantee,
        cases=cases,
        open_key=open_key,
        strict=scope == SCOPE_CASE,
        audit_type=AuditType.ACCESS_GRANTED,
        audit_data={"scope": scope},
    )


@sensitive_variables("open_key", "data_key")
def grants_write(
    *,
    actor: User,
    organisation: Organisation,
    grantee: User,
    cases,
    open_key,
    strict,
    audit_type,
    audit_data,
    refuse_recused: bool = False,
) -> GrantResult:
    """The shared part of every grant: checks, then the rows, in one transaction.
    `open_key(case)` returns the case key (from a grant or the recovery kit).
    `strict`: refuse rather than skip a case the grantee cannot be given.
    `refuse_recused` (the recovery kit): a recusal is never lifted, only
    another responder who holds the case can do that."""
    grantee_check(organisation=organisation, grantee=grantee)
    reasons = dict(
        Exclusion.objects.filter(user=grantee, case__in=cases).values_list("case_id", "reason")
    )
    held = set(Grant.objects.filter(user=grantee, case__in=cases).values_list("case_id", flat=True))
    pending = set(
        PendingAccess.objects.filter(user=grantee, case__in=cases).values_list("case_id", flat=True)
    )
    result = GrantResult()
    todo = []
    for case in sorted(cases, key=lambda c: c.number):
        reason = reasons.get(case.pk)
        if reason == Exclusion.Reason.EXCLUDED:
            if strict:
                raise ServiceError(
                    f"{grantee} cannot be given access to case #{case.number}: "
                    "the reporter excluded them from it."
                )
            result.excluded.append(case)
        elif reason == Exclusion.Reason.RECUSED and grantee.pk == actor.pk:
            raise ServiceError(
                f"You recused yourself from case #{case.number}; only another "
                "responder can give you access again."
            )
        elif reason == Exclusion.Reason.RECUSED and refuse_recused:
            if strict:
                raise ServiceError(
                    f"{grantee} recused themselves from case #{case.number}: the recovery "
                    "kit never gives them access again; a responder who holds the case can."
                )
            result.recused.append(case)
        elif case.pk in held and case.pk not in pending:
            if strict:
                raise ServiceError(f"{grantee} already has access to case #{case.number}.")
            result.already.append(case)
        else:
            todo.append(case)
            if reason == Exclusion.Reason.RECUSED:
                result.recusal_lifted.append(case)
    if not todo:
        raise ServiceError(result.summary(grantee) or "There is no case to give access to.")

    with transaction.atomic():
        rows = [
            Grant(
                case=case,
                user=grantee,
                # grantee_check: the grantee has a key pair.
                wrapped_key=crypto.data_key_seal(grantee.public_key, open_key(case)),  # type: ignore[arg-type]
            )
            for case in todo
        ]
        # A stale grant (a key from before a password reset) is replaced.
        Grant.objects.filter(user=grantee, case__in=todo).delete()
        Grant.objects.bulk_create(rows)
        Exclusion.objects.filter(
            user=grantee, case__in=result.recusal_lifted, reason=Exclusion.Reason.RECUSED
        ).delete()
        PendingAccess.objects.filter(user=grantee, case__in=todo).delete()
        for case in todo:
            audit_log(
                organisation=organisation,
                type=audit_type,
                actor=actor,
                case=case,
                data={"user": grantee.pk, **audit_data},
            )
        for case in result.recusal_lifted:
            audit_log(
                organisation=organisation,
                type=AuditType.RECUSAL_LIFTED,
                actor=actor,
                case=case,
                data={"user": grantee.pk},
            )
        result.granted = todo
    return result


def pending_for_holder(*, user: User, organisation: Organisation):
    """Pending access rows a responder can settle: for cases they hold."""
    return (
        PendingAccess.objects.filter(
            case__organisation=organisation, case__grants__user=user, user__is_active=True
        )
        .exclude(user=user)
        .select_related("case", "case__event", "user")
        .order_by("case__number", "user__email")
    )


def pending_for_organisation(*, organisation: Organisation):
    """Every pending access row of the organisation (for the chair with the kit)."""
    return (
        PendingAccess.objects.filter(case__organisation=organisation, user__is_active=True)
        .select_related("case", "case__event", "user")
        .order_by("case__number", "user__email")
    )
