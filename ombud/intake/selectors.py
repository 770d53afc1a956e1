from django.shortcuts import get_object_or_404

from ombud.accounts.models import User
from ombud.intake.models import IntakeDraft
from ombud.orgs.models import Organisation


def intake_drafts(*, user: User, organisation: Organisation):
    """A responder's own unfinished in-person reports in one organisation."""
    return IntakeDraft.objects.filter(organisation=organisation, author=user).select_related(
        "event"
    )


def intake_draft_get(*, user: User, organisation: Organisation, pk) -> IntakeDraft:
    """One of the responder's own drafts, or 404: another person's draft, or
    one from another organisation, looks exactly like a missing one."""
    return get_object_or_404(intake_drafts(user=user, organisation=organisation), pk=pk)
