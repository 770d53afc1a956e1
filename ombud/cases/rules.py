"""Every permission in Ombud, as django-rules predicates. Views and services ask
`user.has_perm(<name>, obj)`; nothing else decides who may do what.

Access to a case is a Grant row and nothing else: a chair without a grant (say,
excluded by the reporter) cannot see the case either."""

import rules

from ombud.accounts.models import Membership, Role


def _role(user, organisation) -> str | None:
    if not user.is_authenticated or organisation is None:
        return None
    cache = user.__dict__.setdefault("_ombud_roles", {})
    if organisation.pk not in cache:
        cache[organisation.pk] = (
            Membership.objects.filter(user=user, organisation=organisation)
            .values_list("role", flat=True)
            .first()
        )
    return cache[organisation.pk]


@rules.predicate
def is_member(user, organisation):
    return _role(user, organisation) is not None


@rules.predicate
def is_chair(user, organisation):
    return _role(user, organisation) == Role.CHAIR


@rules.predicate
def has_key_pair(user):
    return user.is_authenticated and user.public_key is not None


@rules.predicate
def holds_grant(user, case):
    return (
        case is not None
        and _role(user, case.organisation) is not None
        and case.grants.filter(user=user).exists()
    )


rules.add_perm("orgs.view_staff_area", is_member)
rules.add_perm("orgs.manage_events", is_chair)
rules.add_perm("orgs.manage_team", is_chair)
rules.add_perm("cases.view_case", holds_grant)
rules.add_perm("cases.recuse", holds_grant)
rules.add_perm("cases.act", holds_grant)
rules.add_perm("orgs.manage_catalog", is_chair)
rules.add_perm("orgs.manage_settings", is_chair)
# Access grants (ombud.cases.grants): only someone who holds the case key can
# pass it on; the chair can also open any case with the recovery kit.
rules.add_perm("cases.grant_access", holds_grant)
rules.add_perm("orgs.use_recovery_kit", is_chair)
# Taking a report in person: drafts are sealed to the taker's own key.
rules.add_perm("intake.take_report", is_member & has_key_pair)
