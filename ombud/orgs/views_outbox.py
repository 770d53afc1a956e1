from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from ombud.notify import selectors
from ombud.notify.services import outbox_retry_failed
from ombud.notify.tasks import MAX_ATTEMPTS
from ombud.orgs.decorators import staff_view


@staff_view("notify.view_outbox")
@require_http_methods(["GET", "HEAD"])
def outbox(request, organisation):
    """What has not been delivered yet, and why: kind, topic, attempts, the
    last error's class and age. Never an address or any text."""
    now = timezone.now()
    pending = list(selectors.outbox_pending(organisation=organisation)[: selectors.PAGE_ROWS])
    for message in pending:
        message.overdue = (
            message.next_attempt_at is not None
            and message.next_attempt_at < now - selectors.OVERDUE_AFTER
        )
    return render(
        request,
        "notify/outbox.html",
        {
            "organisation": organisation,
            "pending": pending,
            "summary": selectors.outbox_summary(organisation=organisation, now=now),
            "max_attempts": MAX_ATTEMPTS,
            "page_rows": selectors.PAGE_ROWS,
            "now": now,
        },
    )


@staff_view("notify.view_outbox")
@require_POST
def outbox_retry(request, organisation):
    count = outbox_retry_failed(actor=request.user, organisation=organisation)
    if count:
        messages.success(request, f"Trying {count} message(s) again now.")
    else:
        messages.info(request, "No message had given up or was overdue.")
    return redirect("outbox", organisation.slug)
