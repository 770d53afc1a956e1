from django import forms

from ombud.cases.models import PublicStatementConsent
from ombud.cases.services.base import MESSAGE_MAX


class ReceiptForm(forms.Form):
    # No max_length: a long or odd receipt gets the same "not found" as any other.
    receipt = forms.CharField(
        label="Your receipt",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
        help_text="The code you were shown after reporting, like ABCD-EFGH-…; "
        "dashes and upper or lower case do not matter.",
    )


class MessageForm(forms.Form):
    body = forms.CharField(
        label="Your message to the team",
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": "Please write something before sending."},
    )


class AdditionForm(forms.Form):
    text = forms.CharField(
        label="Add to your report",
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Something you remembered, another witness, a correction.",
        error_messages={"required": "Please write something before adding it."},
    )


class ConsentForm(forms.Form):
    may_contact = forms.BooleanField(label="You may contact me about this report", required=False)
    public_statement = forms.ChoiceField(
        label="If the team makes a public statement, may details of your report appear in it?",
        choices=PublicStatementConsent.choices,
        widget=forms.RadioSelect,
    )


class LostReceiptForm(forms.Form):
    email = forms.EmailField(label="The email address you gave in your report")
