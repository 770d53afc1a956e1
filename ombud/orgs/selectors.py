from django.shortcuts import get_object_or_404

from ombud.accounts.models import User
from ombud.orgs.models import Event, Membership, Organisation, ResponseType


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
