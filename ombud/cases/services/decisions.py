from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ombud.accounts.models import User
from ombud.audit.services import audit_log
from ombud.audit.types import AuditType
from ombud.cases.models import (
    Appeal,
    Case,
    Decision,
    DecisionResponse,
    Grant,
    Status,
)
from ombud.cases.services.base import message_validate, permission_require, status_set
from ombud.cases.services.keys import case_data_key
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.notify.services import email_send


def decision_participants(decision: Decision) -> set[int]:
    return {pk for pk in (decision.decided_by_id, decision.approved_by_id) if pk}


def decision_record(
    *, actor: User, case: Case, private_key: bytes, violation: str, rationale: str, responses
) -> Decision:
    """Record what the team decided: a violation finding, responses from the
    catalog (each with an owner) and the rationale. Responses at or above the
    organisation's two-person severity leave the decision proposed until a
    second responder agrees. On an appealed case, only someone who took no part
    in the appealed decision may decide."""
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    organisation = case.organisation
    if violation not in Decision.Violation.values:
        raise ServiceError("Choose whether this was a violation.")
    responses = list(responses)
    for response_type, owner in responses:
        if response_type.organisation_id != organisation.pk or response_type.retired:
            raise ServiceError(f"“{response_type}” is not in the response catalog.")
        if owner is not None and not Grant.objects.filter(case=case, user=owner).exists():
            raise ServiceError(f"{owner} has no access to this case and cannot own a response.")
    appeal = None
    if case.status == Status.APPEALED:
        appeal = case.appeals.filter(outcome__isnull=True).select_related("decision").last()
        if appeal and actor.pk in decision_participants(appeal.decision):
            raise ServiceError(
                "You took part in the appealed decision; another responder reviews it."
            )
    threshold = organisation.two_person_severity
    needs_second = threshold is not None and any(rt.severity >= threshold for rt, _ in responses)
    with transaction.atomic():
        decision = Decision(
            case=case,
            violation=violation,
            decided_by=actor,
            is_final=not needs_second,
            is_appeal_outcome=appeal is not None,
        )
        decision.rationale = crypto.field_encrypt(
            data_key, rationale.strip().encode(), case_id=case.pk, field=decision.rationale_field
        )
        decision.save(force_insert=True)
        DecisionResponse.objects.bulk_create(
            DecisionResponse(decision=decision, response_type=rt, owner=owner)
            for rt, owner in responses
        )
        if decision.is_final:
            _decision_takes_effect(decision, appeal)
        audit_log(
            organisation=organisation,
            type=AuditType.DECISION_RECORDED,
            actor=actor,
            case=case,
            data={
                "violation": violation,
                "responses": [rt.pk for rt, _ in responses],
                "final": decision.is_final,
            },
        )
    return decision


def _decision_takes_effect(decision, appeal) -> None:
    if appeal is not None:
        appeal.outcome = decision
        appeal.save(update_fields=["outcome"])
    status_set(decision.case, Status.DECIDED)


def decision_approve(*, actor: User, decision: Decision) -> Decision:
    case = decision.case
    permission_require(actor, "cases.act", case)
    if decision.is_final:
        raise ServiceError("This decision is already final.")
    if decision.decided_by_id == actor.pk:
        raise ServiceError("A second responder must agree; you proposed this decision.")
    appeal = case.appeals.filter(outcome__isnull=True).select_related("decision").last()
    if decision.is_appeal_outcome and appeal and actor.pk in decision_participants(appeal.decision):
        raise ServiceError("You took part in the appealed decision; another responder reviews it.")
    with transaction.atomic():
        decision.approved_by = actor
        decision.is_final = True
        decision.save(update_fields=["approved_by", "is_final"])
        _decision_takes_effect(decision, appeal if decision.is_appeal_outcome else None)
        audit_log(
            organisation=case.organisation,
            type=AuditType.DECISION_APPROVED,
            actor=actor,
            case=case,
            data={"decision": str(decision.pk)},
        )
    return decision


def response_done_set(*, actor: User, response, done: bool) -> DecisionResponse:
    case = response.decision.case
    permission_require(actor, "cases.act", case)
    with transaction.atomic():
        response.done_at = timezone.now() if done else None
        response.save(update_fields=["done_at"])
        audit_log(
            organisation=case.organisation,
            type=AuditType.RESPONSE_DONE_CHANGED,
            actor=actor,
            case=case,
            data={"response": response.pk, "done": done},
        )
    return response


def appeal_record(*, actor: User, case: Case, private_key: bytes, statement: str) -> Appeal:
    """The reported person appeals the decision. The case goes to `appealed`,
    and the responders who took no part in the decision are asked to review."""
    statement = message_validate(statement)
    data_key = case_data_key(actor=actor, case=case, private_key=private_key)
    decision = case.decisions.filter(is_final=True).last()
    if decision is None:
        raise ServiceError("There is no decision to appeal yet.")
    with transaction.atomic():
        status_set(case, Status.APPEALED)
        appeal = Appeal(case=case, decision=decision, recorded_by=actor)
        appeal.statement = crypto.field_encrypt(
            data_key, statement.encode(), case_id=case.pk, field=appeal.statement_field
        )
        appeal.save(force_insert=True)
        audit_log(
            organisation=case.organisation, type=AuditType.APPEAL_RECORDED, actor=actor, case=case
        )
        url = settings.SITE_ROOT + reverse(
            "case-detail", args=[case.organisation.slug, case.number]
        )
        for grant in appeal_reviewers(case=case, decision=decision):
            email_send(
                organisation=case.organisation,
                to=grant.user.email,
                template="appeal_review",
                context={"case": case, "url": url},
                case=case,
                user=grant.user,
            )
    return appeal


def appeal_reviewers(*, case: Case, decision: Decision):
    """Who may review an appeal of `decision`: those who hold the case and
    took no part in it."""
    return (
        Grant.objects.filter(case=case, user__is_active=True)
        .exclude(user_id__in=decision_participants(decision))
        .select_related("user")
    )
