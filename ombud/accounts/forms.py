from django import forms

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
