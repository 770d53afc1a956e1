"""Who may do what with a case, as django-rules predicates (the organisation's
own permissions are in ombud/orgs/rules.py).

Access to a case is a Grant row and nothing else: a chair without a grant (say,
excluded by the reporter) cannot see the case either."""

import rules

from ombud.orgs.rules import has_key_pair, is_member


@rules.predicate
def holds_grant(user, case):
    return (
        case is not None
        and is_member(user, case.organisation)
        and case.grants.filter(user=user).exists()
    )


rules.add_perm("cases.view_case", holds_grant)
rules.add_perm("cases.recuse", holds_grant)
rules.add_perm("cases.act", holds_grant)
# Access grants (ombud.cases.services.grants): only someone who holds the case
# key can pass it on; the recovery kit's holders can open any case.
rules.add_perm("cases.grant_access", holds_grant)
# Taking a report in person: drafts are sealed to the taker's own key.
rules.add_perm("intake.take_report", is_member & has_key_pair)
