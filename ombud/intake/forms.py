import secrets
from typing import Any, cast

from django import forms
from django.conf import settings

from ombud.cases import attachments, schema
from ombud.cases.models import PublicStatementConsent
from ombud.cases.schema import ReportContent, ReportField
from ombud.lib.errors import ServiceError

MB = 1024 * 1024


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class FormTokenField(forms.CharField):
    """A random token per form, so the same form sent twice makes one case
    (ombud.intake.services.sent_once). Any text is taken as it comes: an odd
    value is a token nobody else has."""

    widget = forms.HiddenInput

    def __init__(self):
        super().__init__(required=False, strip=False, initial=lambda: secrets.token_urlsafe(24))
        self.validators = []  # not even the null-character check: it is only hashed


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


def _form_field(field: ReportField) -> forms.Field:
    """The form field for one field of the report schema."""
    common: dict[str, Any] = {
        "label": field.label,
        "help_text": field.help_text,
        "required": False,
        "initial": field.initial,
    }
    if field.kind == "bool":
        return forms.BooleanField(**common)
    if field.kind == "date":
        return forms.DateField(**common, widget=forms.DateInput(attrs={"type": "date"}))
    if field.kind == "time":
        return forms.TimeField(**common, widget=forms.TimeInput(attrs={"type": "time"}))
    if field.kind == "choice":
        # Optional like everything but the description; unanswered means "no".
        return forms.ChoiceField(
            **common, choices=PublicStatementConsent.choices, widget=forms.RadioSelect
        )
    widget = forms.Textarea(attrs={"rows": 3}) if field.kind == "area" else None
    return forms.CharField(**common, max_length=field.max_length, widget=widget)


class ReportForm(forms.Form):
    """The fields of the procedure's "Report data" (DESIGN §2), from the
    report schema. Everything but the description is optional: people should
    report even when unsure."""

    SECTIONS = schema.SECTIONS

    description = forms.CharField(
        label=schema.FIELDS_BY_NAME["description"].label,
        max_length=settings.OMBUD_DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=schema.FIELDS_BY_NAME["description"].help_text,
        error_messages={"required": "Please describe what happened, even briefly."},
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
    )

    form_token = FormTokenField()

    def __init__(self, *args, responders=(), recovery_procedure="", **kwargs):
        """`recovery_procedure`: who can use the team's recovery kit, in words
        (ombud.orgs.selectors.recovery_procedure), for the exclusion's help text."""
        super().__init__(*args, **kwargs)
        self.responder_choices = [(str(m.user_id), str(m.user)) for m in responders]
        self.exclude_field.choices = self.responder_choices
        who = f" ({recovery_procedure})" if recovery_procedure else ""
        self.exclude_field.help_text = (
            "If you have a conflict of interest with someone on the team, tick them. They get "
            "no key to your report and are not notified about it. The team's recovery "
            f"procedure{who} could still open your report, for example for a responder who "
            "lost their password: if it is ever used on your report, your report's page says "
            "so, and it never gives access to anyone you exclude."
        )

    def clean_consent_public(self):
        return self.cleaned_data.get("consent_public") or PublicStatementConsent.NO

    def clean(self):
        super().clean()
        choices = self.responder_choices
        if choices and len(self.cleaned_data.get("exclude") or []) >= len(choices):
            self.add_error("exclude", "Leave at least one responder who can read your report.")
        return self.cleaned_data

    @property
    def exclude_field(self) -> forms.MultipleChoiceField:
        return cast(forms.MultipleChoiceField, self.fields["exclude"])

    def sections(self):
        return [(legend, [self[name] for name in names]) for legend, names in self.SECTIONS]

    def content(self) -> ReportContent:
        """What gets encrypted: every stored field the reporter wrote."""
        data = {
            k: v
            for k, v in self.cleaned_data.items()
            if k not in ("exclude", "ongoing", "attachments", "form_token")
        }
        for key in ("incident_date", "incident_time"):
            data[key] = data[key].isoformat() if data.get(key) else ""
        return cast(ReportContent, data)


# Every field of the report schema, in its order, refined by the fields the
# class declares (the description) and followed by the ones only the form has.
ReportForm.declared_fields = ReportForm.base_fields = {
    **{field.name: _form_field(field) for field in schema.FIELDS},
    **ReportForm.declared_fields,
}
