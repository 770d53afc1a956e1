from django.shortcuts import get_object_or_404

from ombud.accounts.models import User
from ombud.orgs.models import Event, Membership, Organisation, RecoveryTrustee, ResponseType


def organisation_get(*, slug: str) -> Organisation:
    return get_object_or_404(Organisation, slug=slug)


def event_get_public(*, organisation: Organisation, slug: str) -> Event:
    """An event of this organisation that takes reports, or 404."""
    return get_object_or_404(Event, organisation=organisation, slug=slug, accepts_reports=True)


def events_public(*, organisation: Organisation):
    return Event.objects.filter(organisation=organisation, accepts_reports=True)


def events_for_staff(*, organisation: Organisation):
    return Event.objects.filter(organisation=organisation)


def event_get_for_staff(*, organisation: Organisation, slug: str) -> Event:
    return get_object_or_404(Event, organisation=organisation, slug=slug)


def members(*, organisation: Organisation):
    return (
        Membership.objects.filter(organisation=organisation)
        .select_related("user")
        .order_by("user__display_name", "user__email")
    )


def member_users(*, organisation: Organisation):
    return User.objects.filter(memberships__organisation=organisation).order_by(
        "display_name", "email"
    )


def member_get(*, organisation: Organisation, pk: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user"), organisation=organisation, pk=pk
    )


def memberships_of(*, user: User):
    return Membership.objects.filter(user=user).select_related("organisation")


def response_types(*, organisation: Organisation):
    return ResponseType.objects.filter(organisation=organisation)


def response_type_get(*, organisation: Organisation, pk: int) -> ResponseType:
    return get_object_or_404(ResponseType, organisation=organisation, pk=pk)


def members_with_mfa(*, organisation: Organisation) -> set[int]:
    """Ids of the organisation's members who have an authenticator app or a
    security key (recovery codes alone do not count)."""
    from allauth.mfa.models import Authenticator

    return set(
        Authenticator.objects.filter(
            user__memberships__organisation=organisation,
            type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN],
        ).values_list("user_id", flat=True)
    )


def recovery_trustees(*, organisation: Organisation, pending: bool = False):
    """Who holds which share of the recovery kit (or, `pending`, of the kit a
    rotation under way will issue)."""
    return RecoveryTrustee.objects.filter(
        organisation=organisation, pending=pending
    ).select_related("user")


def recovery_procedure(*, organisation: Organisation) -> str:
    """Who can use the recovery kit, in words a reporter understands."""
    if organisation.recovery_threshold is None:
        return "whoever holds the team's single-person recovery kit"
    if organisation.recovery_threshold == 1:
        return "one trustee of the team, alone"
    count = recovery_trustees(organisation=organisation).count()
    return f"{organisation.recovery_threshold} of the team's {count} trustees acting together"


def recovery_kit_warnings(*, organisation: Organisation) -> list[str]:
    """What the chair is told on every staff page until the kit is re-issued:
    a kit one person can use alone in a team of several, or a share held by
    someone who left the team."""
    warnings = []
    team = Membership.objects.filter(organisation=organisation)
    if organisation.recovery_threshold is None:
        warnings.append(
            f"The recovery kit of {organisation} can be used by one person alone: whoever "
            "holds it can open every case, also a case a reporter kept from them. Re-issue "
            "it split among trustees."
        )
    elif organisation.recovery_threshold < 2 and team.count() >= 2:
        warnings.append(
            f"The recovery kit of {organisation} can be used by one person alone, and the "
            "team now has more members: re-issue it split among trustees."
        )
    gone = recovery_trustees(organisation=organisation).exclude(user__in=team.values("user"))
    for trustee in gone:
        warnings.append(
            f"{trustee.user or 'A former member'} holds share {trustee.index} of the recovery "
            "kit but is no longer on the team: re-issue the kit."
        )
    return warnings
