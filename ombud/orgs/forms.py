from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib.auth import get_user_model, password_validation

from ombud.orgs.models import (
    EVENT_EDITABLE_FIELDS,
    ORGANISATION_SETTINGS_FIELDS,
    Event,
    Membership,
    Organisation,
    ResponseType,
    Role,
)
from ombud.orgs.services import standing_event_errors


class EventForm(forms.ModelForm):
    class Meta:
        model = Event
        fields = EVENT_EDITABLE_FIELDS
        widgets = {
            "starts_on": forms.DateInput(attrs={"type": "date"}),
            "ends_on": forms.DateInput(attrs={"type": "date"}),
        }
        help_texts = {
            "slug": "Part of the public report address: /<organisation>/<slug>/report/",
            "emergency_number": "Shown first on the report page, e.g. “112” or “911”.",
        }

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.instance.organisation = organisation  # for Event.clean
        if self.instance.is_standing:
            self.fields["slug"].help_text = (
                "The standing event keeps its address and always takes reports: "
                "its name and contacts may change."
            )

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        clash = Event.objects.filter(organisation=self.organisation, slug=slug)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("Another event already uses this address.")
        return slug

    def clean_timezone(self):
        # Reminders are shown in the event's time zone; an unknown one would
        # silently fall back to UTC.
        name = self.cleaned_data["timezone"]
        if name == "UTC":
            return name  # the default, valid even where no time zone data is installed
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(
                "Unknown time zone; use a name like “Europe/Berlin” or “UTC”."
            ) from None
        return name

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if (
            cleaned.get("starts_on")
            and cleaned.get("ends_on")
            and cleaned["ends_on"] < cleaned["starts_on"]
        ):
            self.add_error("ends_on", "The event cannot end before it starts.")
        for field, message in standing_event_errors(self.instance, cleaned).items():
            self.add_error(field, message)
        return cleaned

    def _post_clean(self):
        # The service validates and saves; the form must not touch the instance.
        pass


class MemberAddForm(forms.Form):
    # A new account's username is its email, and usernames hold 150 characters.
    email = forms.EmailField(max_length=150)
    display_name = forms.CharField(label="Name shown to the team and reporters", max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.RESPONDER)


class MemberRoleForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role"]


class ResponseTypeForm(forms.ModelForm):
    class Meta:
        model = ResponseType
        fields = ["name", "severity", "retired"]

    def clean_severity(self):
        severity = self.cleaned_data["severity"]
        if not 1 <= severity <= 5:
            raise forms.ValidationError("Severity goes from 1 (mild) to 5 (severe).")
        return severity

    def _post_clean(self):
        pass  # the service saves


class OrganisationSettingsForm(forms.ModelForm):
    class Meta:
        model = Organisation
        fields = ORGANISATION_SETTINGS_FIELDS

    # What the columns (PositiveSmallIntegerField) hold: the model's own range
    # check is skipped with _post_clean, and a larger number is a database error.
    CLOCK_MAX = 32767

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        for name in ("escalation_minutes", "meeting_hours", "followup_days"):
            if cleaned.get(name) == 0:
                self.add_error(name, "Must be at least 1.")
            elif cleaned.get(name) is not None and cleaned[name] > self.CLOCK_MAX:
                self.add_error(name, f"Must be at most {self.CLOCK_MAX}.")
        severity = cleaned.get("two_person_severity")
        if severity is not None and not 1 <= severity <= 5:
            self.add_error(
                "two_person_severity",
                "Severity goes from 1 (mild) to 5 (severe); leave empty for no second responder.",
            )
        return cleaned

    def _post_clean(self):
        pass  # the service saves


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
        super().clean()
        cleaned = self.cleaned_data
        p1, p2 = cleaned.get("new_password1"), cleaned.get("new_password2")
        if p1 and p2 and p1 != p2:
            self.add_error("new_password2", "The two passwords do not match.")
        elif p1:
            try:
                password_validation.validate_password(
                    p1, get_user_model()(email=self.email, username=self.email)
                )
            except forms.ValidationError as e:
                self.add_error("new_password1", e)
        return cleaned
