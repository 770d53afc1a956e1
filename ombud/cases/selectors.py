"""Reads of cases. Every query is scoped by organisation and by the caller's
Grant: a case without a grant does not exist for that person (404)."""

from django.db.models import Count
from django.http import Http404

from ombud.cases.models import Case, ConsentRecord, Exclusion, Grant


def cases_for_responder(*, user, organisation):
    return (
        Case.objects.filter(organisation=organisation, grants__user=user)
        .select_related("event")
        .order_by("-urgent", "-created_at")
    )


def case_counts_for_responder(*, user, organisation) -> dict:
    rows = (
        cases_for_responder(user=user, organisation=organisation)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
    )
    return {row["status"]: row["n"] for row in rows}


def case_get_for_responder(*, user, organisation, number: int) -> Case:
    case = (
        cases_for_responder(user=user, organisation=organisation)
        .select_related("organisation")
        .filter(number=number)
        .first()
    )
    if case is None:
        raise Http404("No such case.")
    return case


def case_grant(*, case, user) -> Grant:
    grant = Grant.objects.filter(case=case, user=user).first()
    if grant is None:
        raise Http404("No such case.")
    return grant


def case_exclusions(*, case):
    return Exclusion.objects.filter(case=case).select_related("user").order_by("created_at")


def case_team_with_access(*, case):
    return Grant.objects.filter(case=case).select_related("user").order_by("created_at")


def case_consents(*, case):
    """The reporter's consent records, newest (the one in force) first."""
    return ConsentRecord.objects.filter(case=case)
