"""The staff intake form: the public report form plus the procedure's staff
intake checklist (DESIGN §2), for a responder writing down a report given in
person. The content keeps the public form's keys, so both read the same on
the case page; the checklist adds the keys in CHECKLIST_LABELS."""

from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from django import forms
from django.forms.fields import BaseTemporalField
from django.utils import timezone

from ombud.cases.schema import ReportContent
from ombud.intake.forms import ReportForm
from ombud.intake.services import SELF_EXCLUDED
from ombud.orgs.models import Event

# The public form's fields, worded for the responder asking the questions:
# name -> (label, help text, or None to keep the public one).
STAFF_WORDING = {
    "description": (
        "What happened?",
        "In the reporter's own words, as far as you can. The only field you must fill in.",
    ),
    "ongoing": ("This is happening now or still ongoing", "Pages every responder at once."),
    "reported_name": ("Name of the person reported, if known", None),
    "safety_concerns": (
        "Safety concerns if our response would reveal who reported",
        "Ask: could the person guess who reported? Anything written here flags the case "
        "for careful handling.",
    ),
    "desired_outcome": ("What the reporter would like to happen", None),
    "reporter_name": ("Reporter's name", None),
    "reporter_contact": (
        "Reporter's email or phone",
        "Leave empty if they do not want to be contacted.",
    ),
    "consent_contact": ("The team may contact the reporter about this report", None),
    "consent_public": (
        "If we make a public statement, may details of the report appear in it?",
        None,
    ),
    "reported_badge": ("Badge number of the person reported", None),
    "exclude": (
        "Responders the reporter has a conflict of interest with",
        "Tick those the reporter names: they get no key and are not told, and the team's "
        "recovery procedure never gives them access. You are taking this report, so you "
        "will always be able to read it.",
    ),
}

REPORTER_FIELDS = [
    "reporter_anonymous",
    "reporter_name",
    "reporter_badge",
    "reporter_contact",
    "consent_contact",
    "consent_public",
]
IDENTITY_FIELDS = ["reporter_name", "reporter_badge", "reporter_contact"]
INTAKE_TIME_FORMAT = "%Y-%m-%dT%H:%M"
# A phone's clock may run a little ahead of the server's.
FUTURE_SLACK = timedelta(minutes=5)


def _staff_sections():
    """The public form's sections, with the reporter's details moved up into
    the checklist and the law enforcement question beside the safety one."""
    sections = [
        ("Taking the report", ["event", "intake_at"]),
        ("The reporter", REPORTER_FIELDS),
    ]
    for legend, names in ReportForm.SECTIONS:
        names = [name for name in names if name not in REPORTER_FIELDS]
        if "safety_concerns" in names:
            legend, names = "Safety and wishes", [*names, "law_enforcement_requested"]
        if names:
            sections.append((legend, names))
    return sections


def events_taking_reports(*, organisation):
    return Event.objects.filter(organisation=organisation, accepts_reports=True)


def event_default(events: list):
    """The only event running today (in its own time zone), else the
    standing "no event / online space" one."""

    def running(event):
        today = timezone.localdate(timezone=ZoneInfo(event.timezone))
        return event.starts_on and event.starts_on <= today <= (event.ends_on or event.starts_on)

    current = [e for e in events if not e.is_standing and running(e)]
    if len(current) == 1:
        return current[0]
    return next((e for e in events if e.is_standing), events[0] if events else None)


class WallClockField(forms.DateTimeField):
    """A date and time without a zone: the form reads it in the event's zone,
    which is only known once the event field is cleaned."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value.replace(tzinfo=None)
        # Only the input formats: no ISO offsets, no current time zone.
        return BaseTemporalField.to_python(self, value)

    def prepare_value(self, value):
        return value


class StaffReportForm(ReportForm):
    SECTIONS = _staff_sections()

    event = forms.ModelChoiceField(
        label="Event",
        queryset=Event.objects.none(),
        to_field_name="slug",
        empty_label=None,
        error_messages={
            "required": "Choose the event the report is about.",
            "invalid_choice": "Choose one of the events listed: that one does not take reports.",
        },
    )
    intake_at = WallClockField(
        label="Time of intake",
        required=False,
        input_formats=[INTAKE_TIME_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=INTAKE_TIME_FORMAT),
        help_text="In the event's local time; left empty, the time you send the report. "
        "Change it if you are writing the report down later.",
        error_messages={
            "invalid": "Enter the time of intake as a date and time, e.g. 2025-06-01 14:30."
        },
    )
    reporter_anonymous = forms.BooleanField(
        label="The reporter wants to stay anonymous",
        required=False,
        help_text="Then leave their name, badge and contact empty. With the receipt they can "
        "still follow the report and answer the team.",
    )
    reporter_badge = forms.CharField(
        label="Reporter's badge number", required=False, max_length=2000
    )
    law_enforcement_requested = forms.BooleanField(
        label="The reporter asked us to contact law enforcement",
        required=False,
        help_text="Tick only if they asked. Nobody else contacts the police: this records "
        "their request, with its time, at the top of the case.",
    )

    def __init__(self, *args, organisation, actor, responders=(), draft=False, **kwargs):
        super().__init__(*args, responders=responders, **kwargs)
        self.actor = actor
        for name, (label, help_text) in STAFF_WORDING.items():
            self.fields[name].label = label
            if help_text is not None:
                self.fields[name].help_text = help_text
        files = self.fields["attachments"]
        files.help_text += " Drafts do not keep files: attach them when you send the report."
        self.exclude_field.choices = [
            (value, f"{label} (you, taking this report)" if value == str(actor.pk) else label)
            for value, label in self.responder_choices
        ]
        events = cast(forms.ModelChoiceField, self.fields["event"])
        events.queryset = events_taking_reports(organisation=organisation)
        default = event_default(list(events.queryset))
        if default is not None and "event" not in self.initial:
            self.initial["event"] = default.slug
            self.initial.setdefault(
                "intake_at",
                timezone.now().astimezone(ZoneInfo(default.timezone)).strftime(INTAKE_TIME_FORMAT),
            )
        if draft:
            # A draft is saved in parts: nothing is required yet but the event.
            self.fields["description"].required = False

    def clean_exclude(self):
        excluded = self.cleaned_data.get("exclude") or []
        if str(self.actor.pk) in excluded:
            raise forms.ValidationError(SELF_EXCLUDED)
        return excluded

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("reporter_anonymous") and any(
            str(cleaned.get(name) or "").strip() for name in IDENTITY_FIELDS
        ):
            self.add_error(
                "reporter_anonymous",
                "An anonymous report has no name, badge or contact: empty those fields, "
                "or untick “anonymous”.",
            )
        event, wall_clock = cleaned.get("event"), cleaned.get("intake_at")
        if event is not None and wall_clock is not None:
            intake_at = wall_clock.replace(tzinfo=ZoneInfo(event.timezone))
            if intake_at > timezone.now() + FUTURE_SLACK:
                self.add_error("intake_at", "The time of intake cannot be in the future.")
            cleaned["intake_at"] = intake_at
        return cleaned

    def draft_fields(self) -> dict:
        """What the responder typed, as the widgets read it, to save as a
        draft and give back as the form's initial values. Never files."""
        return {
            name: self[name].data
            for name, field in self.fields.items()
            if not isinstance(field, forms.FileField)
        }

    def content(self) -> ReportContent:
        """The public form's content plus the checklist; an empty time of
        intake means now."""
        data: dict[str, Any] = dict(super().content())
        event = data.pop("event")
        intake_at = data.get("intake_at") or timezone.now().astimezone(ZoneInfo(event.timezone))
        data["intake_at"] = intake_at.isoformat(timespec="minutes")
        data["taken_by"] = str(self.actor)
        return cast(ReportContent, data)
