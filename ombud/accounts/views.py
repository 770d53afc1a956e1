import time
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ombud.accounts import mfa
from ombud.accounts.forms import (
    PasswordResetRequestForm,
    PasswordResetSetForm,
    PushChannelForm,
)
from ombud.accounts.keys import session_key_forget, session_key_seal, session_key_store
from ombud.accounts.services import user_password_change, user_private_key_unlock
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.lib.throttle import address_group, client_ip, throttle_allow
from ombud.notify.hosts import PUSH_SERVICES
from ombud.notify.models import PushChannel
from ombud.notify.selectors import push_tests_pending
from ombud.notify.services import (
    push_channel_add,
    push_channel_remove,
    push_channel_test,
    push_service_name,
)


class LoginView(auth_views.LoginView):
    """Django's login, plus unlocking the private key for this session."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = False

    def form_valid(self, form):
        user = form.get_user()
        private_key = None
        if user.has_keys:
            private_key = user_private_key_unlock(user=user, password=form.cleaned_data["password"])
        if mfa.mfa_enabled(user):
            # Not logged in yet: the second factor comes first, and the key
            # waits outside the session until it is given.
            response: HttpResponse = redirect("login-mfa")
            sealed = session_key_seal(response, private_key) if private_key else None
            mfa.mfa_pending_start(
                self.request, user, next_url=self.get_success_url(), sealed_key=sealed
            )
            return response
        response = super().form_valid(form)
        mfa.password_step_record(self.request, user)
        if private_key is not None:
            session_key_store(self.request, response, private_key)
        return response


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def login_mfa(request):
    """The second step of logging in: a code from the authenticator app, a
    recovery code, or a security key."""
    step = mfa.mfa_pending(request)
    if step is None:
        messages.info(request, mfa.mfa_pending_refusal(request))
        return redirect("login")
    user, next_url = step.user, step.next_url
    code_form, webauthn_form, posted = mfa.mfa_forms(request, user)
    if posted is not None and posted.is_valid():
        # login() empties a session that was someone else's: what the
        # password step left is taken out first and put back after.
        pending = mfa.mfa_pending_take(request)
        auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        mfa.password_step_record(request, user)
        posted.save()  # records the second factor in the session
        mfa.mfa_pending_finish(request, pending)
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    context = {
        "form": code_form,
        "webauthn_form": webauthn_form,
        "has_app": mfa.mfa_has_app(user),
        "key_refused": mfa.KEY_REFUSED
        if webauthn_form is not None and webauthn_form.errors
        else "",
    }
    if webauthn_form is not None:
        context["js_data"] = mfa.webauthn_request_options(user)
    return render(
        request, "accounts/login_mfa.html", context, status=400 if posted is not None else 200
    )


@require_POST
def login_mfa_cancel(request):
    """Leave the second step: the half-finished sign-in is forgotten."""
    mfa.mfa_pending_cancel(request)
    return redirect("login")


@require_POST
def logout(request):
    response = auth_views.LogoutView.as_view()(request)
    session_key_forget(response)
    return response


def login_again(request):
    """The key for this session is gone (cookie lost or expired): log in again."""
    messages.info(request, "Please log in again to unlock case content in this browser.")
    return redirect(f"{reverse('login')}?next={request.path}")


def member_required(view):
    """Logged in, active and still a member of an organisation: someone
    removed from every team has no business with the profile or push
    channels (a push channel makes the server connect somewhere)."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.is_active or not request.user.memberships.exists():
            raise PermissionDenied(
                "You are no longer a member of any organisation on Ombud, so your profile and "
                "push channels are closed. Ask a chair to add you again if you should be."
            )
        return view(request, *args, **kwargs)

    return wrapper


@never_cache
@member_required
@require_http_methods(["GET", "HEAD", "POST"])
def profile(request):
    """A staff member's own settings: the push channels they are paged on."""
    form = PushChannelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        channel = push_channel_add(user=request.user, **form.cleaned_data)
        messages.success(
            request, f"Push channel “{channel.label}” added. Send a test to check it works."
        )
        return redirect("profile")
    channels = [
        (channel, push_service_name(channel))
        for channel in PushChannel.objects.filter(user=request.user).order_by("created_at", "pk")
    ]
    return render(
        request,
        "accounts/profile.html",
        {
            "form": form,
            "channels": channels,
            "tests": list(push_tests_pending(user=request.user).select_related("channel")),
            "push_services": ", ".join(dict.fromkeys(sorted(PUSH_SERVICES.values()))),
        },
        status=400 if form.errors else 200,
    )


def _own_channel(request, pk) -> PushChannel:
    # Someone else's channel looks exactly like a missing one.
    return get_object_or_404(PushChannel, pk=pk, user=request.user)


@member_required
@require_POST
def push_channel_remove_view(request, pk):
    channel = _own_channel(request, pk)
    push_channel_remove(user=request.user, channel=channel)
    messages.success(request, f"Push channel “{channel.label}” removed.")
    return redirect("profile")


@member_required
@require_POST
def push_channel_test_view(request, pk):
    channel = _own_channel(request, pk)
    push_channel_test(user=request.user, channel=channel)
    messages.success(
        request,
        f"A test push to “{channel.label}” is on its way. If it does not arrive within a "
        "minute, check the URL and the app's subscription.",
    )
    return redirect("profile")


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def password_change(request):
    """Change the password: the same key pair, re-encrypted, so every case
    stays readable; this browser's session key is re-sealed and every other
    session of the account ends on its next request."""
    form = PasswordChangeForm(request.user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            private_key = user_password_change(
                user=request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password1"],
            )
        except (ServiceError, ValidationError) as e:
            form.add_error(None, e.messages if isinstance(e, ValidationError) else str(e))
        else:
            request.user.refresh_from_db()
            update_session_auth_hash(request, request.user)
            messages.success(
                request,
                "Your password is changed. You stay logged in here; your other sessions "
                "have ended. Every case you could read stays readable.",
            )
            response = redirect("profile")
            if private_key is not None:
                session_key_store(request, response, private_key)
            return response
    return render(
        request,
        "accounts/password_change.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Reset links by email. The answer is the same whether the address has
    an account or not. Requests are throttled per address (so nobody's inbox
    can be flooded) and per IP, whether the address exists or not."""

    form_class = PasswordResetRequestForm
    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("password-reset-done")

    def post(self, request, *args, **kwargs):
        email = crypto.email_normalise(request.POST.get("email", ""))[:254]
        allowed = throttle_allow(
            scope="password-reset-ip",
            ident=address_group(client_ip(request)),
            limit=settings.OMBUD_RESET_TRIES_PER_IP,
            window_seconds=900,
        ) and throttle_allow(
            scope="password-reset-email",
            ident=email,
            limit=settings.OMBUD_RESET_TRIES_PER_EMAIL,
            window_seconds=3600,
        )
        if not allowed:
            return render(request, "accounts/password_reset_throttled.html", status=429)
        # Sending a link costs some milliseconds that an unknown address does
        # not: every answer waits until the same moment, so the time does not
        # tell whether the address has an account (`make bench` measures it).
        started = time.monotonic()
        response = super().post(request, *args, **kwargs)
        time.sleep(max(0.0, settings.OMBUD_RESET_ANSWER_SECONDS - (time.monotonic() - started)))
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = PasswordResetSetForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password-reset-complete")
    post_reset_login = False

    def render_to_response(self, context, **kwargs):
        # A dead link (expired, used, mangled) is a clear 400, not a 200.
        form = context.get("form")
        if not context.get("validlink") or (form is not None and form.errors):
            kwargs["status"] = 400
        return super().render_to_response(context, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        count = form.pending_count
        if count:
            messages.warning(
                self.request,
                f"Your account has a new key, so the {count} case{pluralize(count)} you "
                f"could read {pluralize(count, 'is,are')} closed to you for now. Access must "
                "be restored by a responder who holds the case, or by the chair with the "
                "recovery kit: ask them.",
            )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer once an account and address are locked (AXES_* settings)."""
    return render(
        request,
        "accounts/locked_out.html",
        {
            "limit": settings.AXES_FAILURE_LIMIT,
            "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
        status=429,
    )
