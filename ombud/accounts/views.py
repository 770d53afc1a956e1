from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ombud.accounts.forms import PushChannelForm
from ombud.accounts.keys import session_key_forget, session_key_store
from ombud.accounts.models import PushChannel
from ombud.accounts.services import user_private_key_unlock
from ombud.notify.selectors import push_tests_pending
from ombud.notify.services import (
    push_channel_add,
    push_channel_remove,
    push_channel_test,
    push_service_name,
)
from ombud.orgs.selectors import memberships_of


class LoginView(auth_views.LoginView):
    """Django's login, plus unlocking the private key for this session."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = False

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.get_user()
        if user.has_keys:
            private_key = user_private_key_unlock(user=user, password=form.cleaned_data["password"])
            session_key_store(self.request, response, private_key)
        return response


@require_POST
def logout(request):
    response = auth_views.LogoutView.as_view()(request)
    session_key_forget(response)
    return response


@login_required
@require_http_methods(["GET", "HEAD"])
def staff_home(request):
    """Send a staff member to their organisation, or let them pick one."""
    memberships = list(memberships_of(user=request.user))
    if len(memberships) == 1:
        return redirect("dashboard", memberships[0].organisation.slug)
    if not memberships:
        messages.info(request, "Your account is not part of any organisation yet.")
    return render(request, "accounts/staff_home.html", {"memberships": memberships})


def login_again(request):
    """The key for this session is gone (cookie lost or expired): log in again."""
    messages.info(request, "Please log in again to unlock case content in this browser.")
    return redirect(f"{reverse('login')}?next={request.path}")


@never_cache
@login_required
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
            "memberships": list(memberships_of(user=request.user)),
        },
        status=400 if form.errors else 200,
    )


def _own_channel(request, pk) -> PushChannel:
    # Someone else's channel looks exactly like a missing one.
    return get_object_or_404(PushChannel, pk=pk, user=request.user)


@login_required
@require_POST
def push_channel_remove_view(request, pk):
    channel = _own_channel(request, pk)
    push_channel_remove(user=request.user, channel=channel)
    messages.success(request, f"Push channel “{channel.label}” removed.")
    return redirect("profile")


@login_required
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
