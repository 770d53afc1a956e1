from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ombud.cases import selectors as case_selectors
from ombud.cases.schema import report_rows
from ombud.lib.errors import ServiceError
from ombud.lib.links import link_token, link_token_exchange, link_token_forget
from ombud.lib.throttle import address_group, client_ip, throttle_allow
from ombud.orgs import selectors as org_selectors
from ombud.portal import services
from ombud.portal.forms import AdditionForm, ConsentForm, LostReceiptForm, MessageForm, ReceiptForm


def _cookie_path(organisation) -> str:
    return f"/{organisation.slug}/report/status/"


def _too_many(request, organisation):
    return render(request, "portal/throttled.html", {"organisation": organisation}, status=429)


def _throttled(*, scope: str, request, per_ip: int, overall: int) -> bool:
    """Per client address (an IPv6 /64 counts as one), then across all of
    them. What the address's own limit refused never reaches the shared
    count, so one client cannot use up everyone's tries."""
    window = settings.OMBUD_RECEIPT_WINDOW_SECONDS
    ident = address_group(client_ip(request))
    if not throttle_allow(scope=scope, ident=ident, limit=per_ip, window_seconds=window):
        return True
    return not throttle_allow(scope=scope, ident="*", limit=overall, window_seconds=window)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def enter(request, org_slug):
    organisation = org_selectors.organisation_get(slug=org_slug)
    form = ReceiptForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if _throttled(
            scope="receipt",
            request=request,
            per_ip=settings.OMBUD_RECEIPT_TRIES_PER_IP,
            overall=settings.OMBUD_RECEIPT_TRIES_GLOBAL,
        ):
            return _too_many(request, organisation)
        found = form.is_valid() and services.receipt_unlock(
            organisation=organisation, receipt=form.cleaned_data["receipt"]
        )
        if isinstance(found, services.ReceiptWaiting):
            return render(
                request,
                "portal/enter.html",
                {"organisation": organisation, "form": ReceiptForm(), "waiting": True},
            )
        if found:
            case, data_key = found.case, found.data_key
            cookie = services.portal_session_open(case=case, data_key=data_key)
            response = redirect("portal-case", organisation.slug)
            response.set_cookie(
                settings.PORTAL_COOKIE,
                cookie,
                path=_cookie_path(organisation),
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Strict",
            )
            return response
        form = ReceiptForm()
        status = 404
    return render(
        request,
        "portal/enter.html",
        {"organisation": organisation, "form": form, "not_found": status == 404},
        status=status,
    )


def _portal(view):
    """Resolve the reporter's portal session for this organisation, or send
    them back to the receipt form."""

    def wrapper(request, org_slug, *args, **kwargs):
        organisation = org_selectors.organisation_get(slug=org_slug)
        found = services.portal_session_resume(
            organisation=organisation, cookie=request.COOKIES.get(settings.PORTAL_COOKIE)
        )
        if found is None:
            messages.info(request, "Please enter your receipt (again) to see your report.")
            return redirect("portal-enter", organisation.slug)
        case, data_key = found.case, found.data_key
        return view(request, organisation, case, data_key, *args, **kwargs)

    wrapper.__name__ = view.__name__
    return never_cache(wrapper)


def _case_page(request, organisation, case, data_key, *, status=200, **forms):
    content = services.portal_content_read(case=case, data_key=data_key)
    consent = case.consents.first()
    context = {
        "organisation": organisation,
        "case": case,
        "submissions": [(s, None if c is None else report_rows(c)) for s, c in content.submissions],
        "messages_thread": content.messages,
        "message_form": forms.get("message_form") or MessageForm(),
        "addition_form": forms.get("addition_form") or AdditionForm(),
        "consent_form": forms.get("consent_form")
        or ConsentForm(
            initial={
                "may_contact": consent.may_contact,
                "public_statement": consent.public_statement,
            }
            if consent
            else None
        ),
        "consent": consent,
        "recovery_uses": case_selectors.case_recovery_uses(case=case),
    }
    return render(request, "portal/case.html", context, status=status)


@require_http_methods(["GET", "HEAD"])
@_portal
def case_view(request, organisation, case, data_key):
    return _case_page(request, organisation, case, data_key)


@require_POST
@_portal
def message_view(request, organisation, case, data_key):
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            services.message_from_reporter(
                case=case, data_key=data_key, body=form.cleaned_data["body"]
            )
        except ServiceError as e:
            form.add_error("body", str(e))
        else:
            messages.success(request, "Your message was sent to the team.")
            return redirect("portal-case", organisation.slug)
    return _case_page(request, organisation, case, data_key, status=400, message_form=form)


@require_POST
@_portal
def addition_view(request, organisation, case, data_key):
    form = AdditionForm(request.POST)
    if form.is_valid():
        try:
            services.submission_add(case=case, data_key=data_key, text=form.cleaned_data["text"])
        except ServiceError as e:
            form.add_error("text", str(e))
        else:
            messages.success(request, "Your addition was added to the report.")
            return redirect("portal-case", organisation.slug)
    return _case_page(request, organisation, case, data_key, status=400, addition_form=form)


@require_POST
@_portal
def consent_view(request, organisation, case, data_key):
    form = ConsentForm(request.POST)
    if form.is_valid():
        services.consent_change(case=case, **form.cleaned_data)
        messages.success(request, "Your choices were saved.")
        return redirect("portal-case", organisation.slug)
    return _case_page(request, organisation, case, data_key, status=400, consent_form=form)


@require_POST
def leave(request, org_slug):
    organisation = org_selectors.organisation_get(slug=org_slug)
    services.portal_session_close(cookie=request.COOKIES.get(settings.PORTAL_COOKIE))
    response = redirect("portal-enter", organisation.slug)
    response.delete_cookie(
        settings.PORTAL_COOKIE, path=_cookie_path(organisation), samesite="Strict"
    )
    return response


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def lost(request, org_slug):
    organisation = org_selectors.organisation_get(slug=org_slug)
    form = LostReceiptForm(request.POST or None)
    if request.method == "POST":
        if _throttled(scope="lost-receipt", request=request, per_ip=5, overall=200):
            return _too_many(request, organisation)
        if form.is_valid():
            services.receipt_renewal_request(
                organisation=organisation, email=form.cleaned_data["email"]
            )
            return render(request, "portal/lost_sent.html", {"organisation": organisation})
    return render(
        request,
        "portal/lost.html",
        {"organisation": organisation, "form": form},
        status=400 if form.errors else 200,
    )


RENEWAL_COOKIE = "ombud_renewal"


def _renew_path(organisation) -> str:
    return f"/{organisation.slug}/report/status/renew/"


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def renew(request, org_slug, token=None):
    """The emailed link (`token`) is answered with a redirect to the same page
    without it (ombud.lib.links); the button lives at that token-free address."""
    organisation = org_selectors.organisation_get(slug=org_slug)
    path = _renew_path(organisation)
    if (
        token is not None
        and request.method != "POST"
        and services.receipt_renewal_valid(organisation=organisation, token=token)
    ):
        return link_token_exchange(
            to=path,
            cookie=RENEWAL_COOKIE,
            path=path,
            token=token,
            max_age=int(services.RENEWAL_VALID.total_seconds()),
        )
    token = link_token(request, cookie=RENEWAL_COOKIE, token=token)
    if request.method == "POST":
        try:
            receipt = services.receipt_renew(organisation=organisation, token=token)
        except ServiceError as e:
            return render(
                request,
                "portal/renew.html",
                {"organisation": organisation, "error": str(e)},
                status=404,
            )
        response = render(
            request, "portal/renewed.html", {"organisation": organisation, "receipt": receipt}
        )
        link_token_forget(response, cookie=RENEWAL_COOKIE, path=path)
        return response
    valid = services.receipt_renewal_valid(organisation=organisation, token=token)
    return render(
        request,
        "portal/renew.html",
        {"organisation": organisation, "error": None if valid else services.RENEWAL_GONE},
        status=200 if valid else 404,
    )
