"""Who may do what in an organisation, as django-rules predicates. Views and
services ask `user.has_perm(<name>, obj)`; nothing else decides. The
permissions on cases are in ombud/cases/rules.py, built on these."""

import rules

from ombud.orgs.models import Membership, Role


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


rules.add_perm("orgs.view_staff_area", is_member)
rules.add_perm("orgs.manage_events", is_chair)
rules.add_perm("orgs.manage_team", is_chair)
rules.add_perm("orgs.manage_catalog", is_chair)
rules.add_perm("orgs.manage_settings", is_chair)
rules.add_perm("orgs.use_recovery_kit", is_chair)
# Delivery status of the organisation's messages (never addresses or text).
rules.add_perm("notify.view_outbox", is_chair)
