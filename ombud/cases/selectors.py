"""Reads of cases. Every query is scoped by organisation and by the caller's
Grant: a case without a grant does not exist for that person (404)."""

from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.db.models import Count
from django.http import Http404
from django.utils import timezone

from ombud.accounts.models import User
from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.cases.models import Case, ConsentRecord, Exclusion, Grant, Message, Status
from ombud.cases.services.decisions import appeal_reviewers, decision_participants
from ombud.cases.services.grants import grantable_members
from ombud.orgs.models import Event, Organisation


def cases_for_responder(*, user: User, organisation: Organisation):
    return (
        Case.objects.filter(organisation=organisation, grants__user=user)
        .select_related("event")
        .order_by("-urgent", "-created_at")
    )


def case_counts_for_responder(*, user: User, organisation: Organisation) -> dict:
    rows = (
        cases_for_responder(user=user, organisation=organisation)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
    )
    return {row["status"]: row["n"] for row in rows}


def case_get_for_responder(*, user: User, organisation: Organisation, number: int) -> Case:
    case = (
        cases_for_responder(user=user, organisation=organisation)
        .select_related("organisation")
        .filter(number=number)
        .first()
    )
    if case is None:
        raise Http404("No such case.")
    return case


def case_grant(*, case: Case, user: User) -> Grant:
    grant = Grant.objects.filter(case=case, user=user).first()
    if grant is None:
        raise Http404("No such case.")
    return grant


def case_exclusions(*, case: Case):
    return Exclusion.objects.filter(case=case).select_related("user").order_by("created_at")


def case_team_with_access(*, case: Case):
    return Grant.objects.filter(case=case).select_related("user").order_by("created_at")


def case_consents(*, case: Case):
    """The reporter's consent records, newest (the one in force) first."""
    return ConsentRecord.objects.filter(case=case)


@dataclass(frozen=True)
class AppealWithoutReviewer:
    """An open appeal nobody may review: everyone who holds the case took part
    in the decision. `candidates` could review it once someone who holds the
    case gives them access: members who took no part, were not kept out of
    the case, and have a key pair."""

    candidates: list[User]


def appeal_without_reviewer(*, case: Case) -> AppealWithoutReviewer | None:
    if case.status != Status.APPEALED:
        return None
    appeal = case.appeals.filter(outcome__isnull=True).select_related("decision").last()
    if appeal is None or appeal_reviewers(case=case, decision=appeal.decision).exists():
        return None
    candidates = (
        grantable_members(organisation=case.organisation)
        .exclude(pk__in=decision_participants(appeal.decision))
        .exclude(pk__in=Grant.objects.filter(case=case).values("user_id"))
        .exclude(pk__in=Exclusion.objects.filter(case=case).values("user_id"))
    )
    return AppealWithoutReviewer(list(candidates))


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # report, message, note, meeting, decision, appeal, audit
    title: str
    text: str = ""
    undecryptable: bool = False  # its text cannot be decrypted


def case_timeline(*, case: Case, content) -> list[TimelineEntry]:
    """Everything that happened on a case in time order: the reporter's
    submissions and messages, the team's notes, meeting, decisions, appeals,
    and the audit trail (labels only: the log holds no content)."""
    entries = [
        TimelineEntry(s.created_at, "report", s.get_kind_display()) for s, _ in content.submissions
    ]
    entries += [
        TimelineEntry(
            m.created_at,
            "message",
            f"{m.author or 'A responder'} wrote to the reporter"
            if m.direction == Message.Direction.TO_REPORTER
            else "The reporter wrote",
            body or "",
            undecryptable=body is None,
        )
        for m, body in content.messages
    ]
    entries += [
        TimelineEntry(
            n.created_at,
            n.kind,
            f"{n.get_kind_display()} by {n.author or 'a former responder'}",
            (data or {}).get("text", ""),
            undecryptable=data is None,
        )
        for n, data in content.notes
    ]
    entries += [
        TimelineEntry(
            d.created_at, "decision", f"Decision by {d.decided_by}: {d.get_violation_display()}"
        )
        for d, _ in content.decisions
    ]
    entries += [
        TimelineEntry(
            a.created_at,
            "appeal",
            f"Appeal recorded by {a.recorded_by}",
            text or "",
            undecryptable=text is None,
        )
        for a, text in content.appeals
    ]
    events = list(
        AuditEvent.objects.filter(organisation_id=case.organisation_id, case_id=case.pk).exclude(
            type=AuditType.CASE_CONTENT_READ
        )
    )
    people = {e.actor_id for e in events if e.actor_id}
    for event in events:
        if event.type == AuditType.ACCESS_RESTORED_WITH_KIT:
            people |= {event.data.get("user"), *event.data.get("trustees", [])}
    names = {u.pk: str(u) for u in User.objects.filter(pk__in=people - {None})}
    for event in events:
        if event.actor_id is None:
            who = "the reporter"
        else:
            who = names.get(event.actor_id, "a former member")
        if event.type == AuditType.ACCESS_RESTORED_WITH_KIT:
            title = _recovery_use_title(event, names, who)
        else:
            title = f"{event.type_label} ({who})"
        entries.append(TimelineEntry(event.created_at, "audit", title))
    return sorted(entries, key=lambda e: e.at)


def _names(people: list[str]) -> str:
    return people[0] if len(people) == 1 else ", ".join(people[:-1]) + " and " + people[-1]


def _recovery_use_title(event: AuditEvent, names: dict, who: str) -> str:
    grantee = names.get(event.data.get("user"), "a former member")
    trustees = [names.get(pk, "a former member") for pk in event.data.get("trustees", [])]
    how = (
        f"shares of {_names(trustees)}, entered by {who}"
        if trustees
        else f"the single-person recovery kit, entered by {who}"
    )
    return f"Access given to {grantee} by the team's recovery procedure ({how})"


@dataclass(frozen=True)
class RecoveryUse:
    at: datetime
    grantee: str


def case_recovery_uses(*, case: Case) -> list[RecoveryUse]:
    """Every time the recovery kit gave someone access to the case, for the
    reporter's portal (who was given access, never who took part)."""
    events = list(
        AuditEvent.objects.filter(
            organisation_id=case.organisation_id,
            case_id=case.pk,
            type=AuditType.ACCESS_RESTORED_WITH_KIT,
        ).order_by("seq")
    )
    names = {u.pk: str(u) for u in User.objects.filter(pk__in={e.data.get("user") for e in events})}
    return [
        RecoveryUse(e.created_at, names.get(e.data.get("user"), "a former team member"))
        for e in events
    ]


DASHBOARD_OPEN = [Status.NEW, Status.ACKNOWLEDGED, Status.REOPENED]


def dashboard_cases(
    *,
    user: User,
    organisation: Organisation,
    event: Event | None = None,
    status=None,
    assignee: User | None = None,
):
    """The cases on a responder's dashboard, most pressing first: urgent and
    unacknowledged, then overdue meetings and follow-ups, then the rest. A
    constant number of queries whatever the number of cases."""
    now = timezone.now()
    cases = (
        cases_for_responder(user=user, organisation=organisation)
        .select_related("assignee", "acknowledged_by")
        .annotate(
            priority=models.Case(
                models.When(urgent=True, acknowledged_at__isnull=True, then=0),
                models.When(meeting_due_at__lt=now, status__in=DASHBOARD_OPEN, then=1),
                models.When(
                    # As Case.followup_overdue: only if someone can be followed up with.
                    models.Q(receipt_lookup__isnull=False)
                    | models.Q(reporter_contact_available=True),
                    followup_due_at__lt=now,
                    followed_up_at__isnull=True,
                    status__in=[*DASHBOARD_OPEN, Status.TRIAGED, Status.DECIDED],
                    then=1,
                ),
                models.When(status=Status.CLOSED, then=3),
                default=2,
                output_field=models.IntegerField(),
            )
        )
        .order_by("priority", "-created_at")
    )
    if event is not None:
        cases = cases.filter(event=event)
    if status:
        cases = cases.filter(status=status)
    if assignee is not None:
        cases = cases.filter(assignee=assignee)
    return cases
