from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from ombud.accounts.keys import session_key_forget, session_key_store
from ombud.accounts.services import user_private_key_unlock
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
