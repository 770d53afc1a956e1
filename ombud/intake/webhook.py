"""Mailgun's inbound route, through django-anymail (OMBUD_MAIL_INTAKE=webhook).

anymail checks the shared secret (HTTP basic auth, ANYMAIL["WEBHOOK_SECRET"])
and Mailgun's signature of each post, then sends its `inbound` signal, which
`ombud.intake.signals` turns into `mail_receive`. Added here: a 404 unless this
intake is the one chosen, and a post whose signed timestamp is older than
MAX_AGE is refused (anymail does not look at it), so a captured request cannot
be replayed later. A replay within MAX_AGE carries the same Message-ID, which
`mail_receive` takes in once."""

import time

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from django.conf import settings
from django.http import Http404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

MAX_AGE = 15 * 60  # seconds; Mailgun posts at once and retries with fresh signatures


class MailgunInbound(MailgunInboundWebhookView):
    def validate_request(self, request):
        # anymail runs every validate_request in the class chain: basic auth and
        # the signature are checked by the parents.
        try:
            age = time.time() - int(request.POST["timestamp"])
        except (KeyError, ValueError):
            raise AnymailWebhookValidationFailure("Mailgun webhook without timestamp") from None
        if not -MAX_AGE < age < MAX_AGE:
            raise AnymailWebhookValidationFailure("Mailgun webhook timestamp out of range")


_mailgun_inbound = MailgunInbound.as_view()


@csrf_exempt
@require_POST
def mailgun_inbound(request, *args, **kwargs):
    if settings.OMBUD_MAIL_INTAKE != "webhook":
        raise Http404
    return _mailgun_inbound(request, *args, **kwargs)
