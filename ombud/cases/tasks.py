"""Background work for cases: the clocks' timed steps and team notices.
Tasks take ids only, never content or secrets; what they send goes through
the outbox. The logic lives in ombud.cases.clocks."""

from django_tasks import task

from ombud.cases import clocks
from ombud.cases.models import Case
from ombud.notify.models import OutboxMessage


@task()
def case_notify_new(case_id: str) -> int:
    case = Case.objects.select_related("organisation", "event").filter(pk=case_id).first()
    if case is None:
        return 0
    return clocks.notify_team(
        case=case,
        headline="ONGOING incident" if case.urgent else "New report",
        topic=OutboxMessage.Topic.NEW_REPORT,
    )


@task()
def case_notify_reporter_wrote(case_id: str) -> int:
    case = Case.objects.select_related("organisation", "event").filter(pk=case_id).first()
    if case is None:
        return 0
    return clocks.notify_team(
        case=case, headline="The reporter wrote", topic=OutboxMessage.Topic.REPORTER_WROTE
    )


@task()
def case_escalate(case_id: str, page_round: int) -> bool:
    """The escalation window after page `page_round` ended."""
    return clocks.escalate(case_id=case_id, page_round=page_round)


@task()
def case_meeting_reminder(case_id: str, number: int) -> str:
    return clocks.meeting_remind(case_id=case_id, number=number)
