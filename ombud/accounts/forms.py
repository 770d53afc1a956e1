from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm

from ombud.notify.services import PUSH_URL_MAX, push_url_validate


class PushChannelForm(forms.Form):
    label = forms.CharField(
        max_length=100, help_text="For you to tell your channels apart, e.g. “My phone (ntfy)”."
    )
    url = forms.CharField(
        label="Apprise URL",
        max_length=PUSH_URL_MAX,
        help_text="For the ntfy app: ntfys://ntfy.sh/your-hard-to-guess-topic. Signal, "
        "Matrix, Telegram and SMS gateways work too: any URL Apprise understands.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}
        ),
    )

    def clean_url(self):
        return push_url_validate(self.cleaned_data["url"])


class InvitationAcceptForm(forms.Form):
    """Only the new password: email, name and role come from the invitation."""

    new_password1 = forms.CharField(
        label="Choose a password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters; a few random words work well. It also "
        "protects your key to the reports, so keep it in a password manager.",
    )
    new_password2 = forms.CharField(
        label="The same password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("new_password1"), cleaned.get("new_password2")
        if p1 and p2 and p1 != p2:
            self.add_error("new_password2", "The two passwords do not match.")
        elif p1:
            from django.contrib.auth import get_user_model

            try:
                password_validation.validate_password(
                    p1, get_user_model()(email=self.email, username=self.email)
                )
            except forms.ValidationError as e:
                self.add_error("new_password1", e)
        return cleaned


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
        from ombud.accounts.services import password_reset_send

        password_reset_send(user=context["user"], uid=context["uid"], token=context["token"])


class PasswordResetSetForm(SetPasswordForm):
    """Setting a new password after a reset: a new key pair, and the cases the
    old key opened wait in PendingAccess (ombud.accounts.services)."""

    pending_count = 0

    def save(self, commit=True):
        from ombud.accounts.services import user_password_reset

        self.pending_count = user_password_reset(
            user=self.user, new_password=self.cleaned_data["new_password1"]
        )
        return self.user
