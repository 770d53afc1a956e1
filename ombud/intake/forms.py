from django import forms
from django.conf import settings

from ombud.cases import attachments
from ombud.cases.models import PublicStatementConsent
from ombud.lib.errors import ServiceError

MB = 1024 * 1024


def _text(label, help_text="", max_length=2000):
    return forms.CharField(label=label, required=False, max_length=max_length, help_text=help_text)


def _area(label, help_text="", max_length=10_000):
    return forms.CharField(
        label=label,
        required=False,
        max_length=max_length,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Several files in one input (Django's "uploading multiple files"). The
    cleaned value is the list of checked uploads, ready for `case_submit`;
    a file's problem is the field's error, naming the file."""

    # The file picker offers these first (and a phone converts HEIC photos to JPEG).
    ACCEPT = ",".join([*attachments.EXTENSIONS, *attachments.EXTENSIONS.values(), ".jpeg"])

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": self.ACCEPT}))
        super().__init__(required=False, **kwargs)

    def clean(self, data, initial=None):
        try:
            return attachments.attachments_from_uploaded([f for f in (data or []) if f])
        except ServiceError as e:
            raise forms.ValidationError(str(e)) from None


class ReportForm(forms.Form):
    """The fields of the procedure's "Report data" (DESIGN §2). Everything but
    the description is optional: people should report even when unsure."""

    # Grouped for the template: (legend, [field names]).
    SECTIONS = [
        (
            "What happened",
            [
                "description",
                "ongoing",
                "incident_date",
                "incident_time",
                "location",
                "circumstances",
            ],
        ),
        (
            "Who was involved",
            [
                "reported_name",
                "reported_appearance",
                "reported_height",
                "reported_clothing",
                "reported_voice",
                "reported_badge",
                "reported_email",
                "reported_handle",
                "witnesses",
            ],
        ),
        ("Your safety and wishes", ["safety_concerns", "desired_outcome"]),
        (
            "How to reach you (optional)",
            ["reporter_name", "reporter_contact", "consent_contact", "consent_public"],
        ),
    ]

    description = forms.CharField(
        label="What happened?",
        max_length=settings.OMBUD_DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="In your own words. This is the only field you must fill in.",
        error_messages={"required": "Please describe what happened, even briefly."},
    )
    ongoing = forms.BooleanField(
        label="This is happening now or still ongoing",
        required=False,
        help_text="We alert the responders at once.",
    )
    incident_date = forms.DateField(
        label="Date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    incident_time = forms.TimeField(
        label="Time (approximate is fine)",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    location = _text("Where did it happen?")
    circumstances = _area("Anything else about the circumstances")
    reported_name = _text("Name of the person you are reporting, if known")
    reported_appearance = _text("Physical appearance")
    reported_height = _text("Height")
    reported_clothing = _text("Clothing")
    reported_voice = _text("Voice or accent")
    reported_badge = _text("Badge number")
    reported_email = _text("Their email address")
    reported_handle = _text("Online handle(s)")
    witnesses = _area(
        "Other people involved or witnesses",
        help_text="Names, contact information or a description.",
    )
    safety_concerns = _area(
        "Concerns about retaliation or your personal safety",
        help_text="For example if the person could guess who reported. "
        "It changes how we handle it.",
    )
    desired_outcome = _area("What would you like to happen?")
    reporter_name = _text("Your name")
    reporter_contact = _text("Your email or phone", help_text="Leave empty to report anonymously.")
    consent_contact = forms.BooleanField(
        label="You may contact me about this report", required=False, initial=True
    )
    consent_public = forms.ChoiceField(
        label="If we make a public statement, may details of your report appear in it?",
        choices=PublicStatementConsent.choices,
        initial="no",
        # Optional like everything but the description; unanswered means "no".
        required=False,
        widget=forms.RadioSelect,
    )
    attachments = AttachmentsField(
        label="Photos, screenshots or documents",
        help_text=f"Optional. Up to {attachments.MAX_FILES} files, "
        f"{attachments.MAX_BYTES // MB} MB each and {attachments.MAX_TOTAL // MB} MB together: "
        "photos (JPEG, PNG, GIF, WebP), PDF or text.",
    )
    exclude = forms.MultipleChoiceField(
        label="Responders who must not see this report",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="If you have a conflict of interest with someone on the team, tick them. "
        "They will not be told about it or be able to read it.",
    )

    def __init__(self, *args, responders=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["exclude"].choices = [(str(m.user_id), str(m.user)) for m in responders]

    def clean_consent_public(self):
        return self.cleaned_data.get("consent_public") or PublicStatementConsent.NO

    def clean(self):
        cleaned = super().clean()
        choices = self.fields["exclude"].choices
        if choices and len(cleaned.get("exclude") or []) >= len(choices):
            self.add_error("exclude", "Leave at least one responder who can read your report.")
        return cleaned

    def sections(self):
        return [(legend, [self[name] for name in names]) for legend, names in self.SECTIONS]

    def content(self) -> dict:
        """What gets encrypted: every field the reporter wrote, as JSON."""
        data = {
            k: v
            for k, v in self.cleaned_data.items()
            if k not in ("exclude", "ongoing", "attachments")
        }
        for key in ("incident_date", "incident_time"):
            data[key] = data[key].isoformat() if data.get(key) else ""
        return data


def report_rows(content: dict) -> list[tuple[str, str]]:
    """A decrypted report's fields in form order, with the form's labels; an
    addition (only a description) reads as "Added information"."""
    if set(content) == {"description"}:
        return [("Added information", content["description"])]
    rows = []
    for name, field in ReportForm.base_fields.items():
        value = content.get(name)
        if name == "consent_public":
            value = dict(field.choices).get(value, value)
        elif isinstance(value, bool):
            value = "Yes" if value else "No"
        if value not in (None, ""):
            rows.append((field.label, value))
    return rows
