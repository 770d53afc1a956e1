from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ombud.cases.schema import report_rows
from ombud.lib.errors import ServiceError
from ombud.lib.throttle import client_ip, throttle_allow
from ombud.orgs import selectors as org_selectors
from ombud.portal import services
from ombud.portal.forms import AdditionForm, ConsentForm, LostReceiptForm, MessageForm, ReceiptForm


def _cookie_path(organisation) -> str:
    return f"/{organisation.slug}/report/status/"


def _too_many(request, organisation):
    return render(request, "portal/throttled.html", {"organisation": organisation}, status=429)


def _throttled(*, scope: str, request, per_ip: int, overall: int) -> bool:
    window = settings.OMBUD_RECEIPT_WINDOW_SECONDS
    ip_ok = throttle_allow(
        scope=scope, ident=client_ip(request), limit=per_ip, window_seconds=window
    )
    all_ok = throttle_allow(scope=scope, ident="*", limit=overall, window_seconds=window)
    return not (ip_ok and all_ok)


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


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def renew(request, org_slug, token):
    organisation = org_selectors.organisation_get(slug=org_slug)
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
        return render(
            request, "portal/renewed.html", {"organisation": organisation, "receipt": receipt}
        )
    valid = services.receipt_renewal_valid(organisation=organisation, token=token)
    return render(
        request,
        "portal/renew.html",
        {
            "organisation": organisation,
            "error": None
            if valid
            else "This link has expired or was already used. Ask for a new one.",
        },
        status=200 if valid else 404,
    )
