from django import forms

from ombud.cases.services import MESSAGE_MAX


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Message to the reporter",
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="The reporter reads it with their receipt. Do not name the reported "
        "person's other reporters or witnesses.",
        error_messages={"required": "Write a message before sending."},
    )
    is_followup = forms.BooleanField(
        label="This is the follow-up with the reporter (the procedure's one-week follow-up)",
        required=False,
    )


def followup_template(case) -> str:
    """The procedure's three points of a follow-up, for the responder to edit."""
    return (
        "Hello,\n\n"
        "Thank you again for your report. We want to let you know how it went.\n\n"
        "1. The incident response team has discussed your report.\n"
        "2. We found that it [was / was not / could not be determined to be] "
        "a violation of the Code of Conduct.\n"
        "3. What we did: [actions taken, or: no further action].\n\n"
        "If you have questions or anything to add, you can reply here.\n\n"
        f"— The incident response team (case {case.number})"
    )
