"""Taking someone off the team: it takes their case keys away and leaves
open cases assigned to them to be reassigned, so it belongs to cases."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ombud.cases.services.team import member_open_assigned_cases, member_remove
from ombud.lib.errors import ServiceError
from ombud.orgs import selectors
from ombud.orgs.decorators import staff_view


@never_cache
@staff_view("orgs.manage_team")
@require_http_methods(["GET", "HEAD", "POST"])
def member_remove_view(request, organisation, pk):
    """Confirm, then take someone off the team (ombud.cases.services.team.member_remove)."""
    membership = selectors.member_get(organisation=organisation, pk=pk)
    if request.method == "POST":
        try:
            unassigned = member_remove(actor=request.user, membership=membership)
        except ServiceError as e:
            messages.error(request, str(e))
            return redirect("team", organisation.slug)
        return render(
            request,
            "orgs/member_removed.html",
            {"organisation": organisation, "removed": membership.user, "cases": unassigned},
        )
    return render(
        request,
        "orgs/member_remove.html",
        {
            "organisation": organisation,
            "membership": membership,
            "cases": list(member_open_assigned_cases(membership=membership)),
        },
    )
