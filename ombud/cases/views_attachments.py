"""Downloading a case's attachments: only through a grant for the case, only
as a download, never shown in the page."""

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from ombud.accounts.keys import session_private_key
from ombud.accounts.views import login_again
from ombud.cases import selectors
from ombud.cases.attachments import content_disposition
from ombud.cases.services.attachments import attachment_read
from ombud.cases.services.keys import ContentUndecryptable
from ombud.orgs.decorators import staff_view


@staff_view()
@require_http_methods(["GET"])
def attachment_download(request, organisation, number, attachment_id):
    case = selectors.case_get_for_responder(
        user=request.user, organisation=organisation, number=number
    )
    private_key = session_private_key(request)
    if private_key is None:
        return login_again(request)
    try:
        attachment, name, data = attachment_read(
            actor=request.user, case=case, attachment_id=attachment_id, private_key=private_key
        )
    except ContentUndecryptable:
        return render(
            request,
            "cases/undecryptable.html",
            {"organisation": organisation, "case": case},
            status=409,
        )
    content_type = attachment.content_type
    if content_type == "text/plain":
        content_type += "; charset=utf-8"  # checked to be UTF-8 when it was received
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition(name, attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    # Should a browser render it anyway: no scripts, no requests, no origin.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
