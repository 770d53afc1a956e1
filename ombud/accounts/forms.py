from django import forms
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm

from ombud.accounts.services import password_reset_send, user_password_reset
from ombud.notify.services import PUSH_URL_MAX, push_url_validate


class PushChannelForm(forms.Form):
    label = forms.CharField(
        max_length=100, help_text="For you to tell your channels apart, e.g. “My phone (ntfy)”."
    )
    url = forms.CharField(
        label="Apprise URL",
        max_length=PUSH_URL_MAX,
        help_text="For the ntfy app: ntfys://ntfy.sh/your-hard-to-guess-topic. Gotify, "
        "Matrix, Signal (signal-cli REST API), Telegram, Pushover, Discord, Slack and Twilio "
        "(SMS) work too, with their Apprise URLs.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}
        ),
    )

    def clean_url(self):
        return push_url_validate(self.cleaned_data["url"])


class PasswordResetRequestForm(PasswordResetForm):
    """Django's reset form, with the link sent through the outbox (sealed in
    the database, deleted once delivered). Same answer whether the address
    has an account or not."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        password_reset_send(user=context["user"], uid=context["uid"], token=context["token"])


class PasswordResetSetForm(SetPasswordForm):
    """Setting a new password after a reset: a new key pair, and the cases the
    old key opened wait to be opened again (ombud.accounts.services)."""

    pending_count = 0

    def save(self, commit=True):
        self.pending_count = user_password_reset(
            user=self.user, new_password=self.cleaned_data["new_password1"]
        )
        return self.user
