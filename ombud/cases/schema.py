"""The report schema (DESIGN §2, "Report data"): the fields of a report,
their labels, order, kinds and sections. The public form and the staff
intake form (ombud.intake) are built from it, and the case page and the
reporter's portal label a decrypted report with it, so a field is added in
one place. `ReportContent` is what a submission holds once decrypted."""

from dataclasses import dataclass
from typing import Literal, TypedDict

from django.conf import settings

from ombud.cases.models import PublicStatementConsent

FieldKind = Literal["text", "area", "bool", "date", "time", "choice"]


@dataclass(frozen=True)
class ReportField:
    name: str
    label: str
    kind: FieldKind = "text"
    help_text: str = ""
    max_length: int = 2000
    initial: object = None
    # False for what the form asks but the submission does not keep as text
    # (whether it is ongoing makes the case urgent instead).
    stored: bool = True


TEXT_MAX = 2000
AREA_MAX = 10_000


def _area(name: str, label: str, help_text: str = "") -> ReportField:
    return ReportField(name, label, "area", help_text, max_length=AREA_MAX)


FIELDS: list[ReportField] = [
    ReportField(
        "description",
        "What happened?",
        "area",
        "In your own words. This is the only field you must fill in.",
        max_length=settings.OMBUD_DESCRIPTION_MAX,
    ),
    ReportField(
        "ongoing",
        "This is happening now or still ongoing",
        "bool",
        "We alert the responders at once.",
        stored=False,
    ),
    ReportField("incident_date", "Date", "date"),
    ReportField("incident_time", "Time (approximate is fine)", "time"),
    ReportField("location", "Where did it happen?"),
    _area("circumstances", "Anything else about the circumstances"),
    ReportField("reported_name", "Name of the person you are reporting, if known"),
    ReportField("reported_appearance", "Physical appearance"),
    ReportField("reported_height", "Height"),
    ReportField("reported_clothing", "Clothing"),
    ReportField("reported_voice", "Voice or accent"),
    ReportField("reported_badge", "Badge number"),
    ReportField("reported_email", "Their email address"),
    ReportField("reported_handle", "Online handle(s)"),
    _area(
        "witnesses",
        "Other people involved or witnesses",
        "Names, contact information or a description.",
    ),
    _area(
        "safety_concerns",
        "Concerns about retaliation or your personal safety",
        "For example if the person could guess who reported. It changes how we handle it.",
    ),
    _area("desired_outcome", "What would you like to happen?"),
    ReportField("reporter_name", "Your name"),
    ReportField(
        "reporter_contact", "Your email or phone", help_text="Leave empty to report anonymously."
    ),
    ReportField("consent_contact", "You may contact me about this report", "bool", initial=True),
    ReportField(
        "consent_public",
        "If we make a public statement, may details of your report appear in it?",
        "choice",
        initial=PublicStatementConsent.NO,
    ),
]
FIELDS_BY_NAME = {field.name: field for field in FIELDS}

# Grouped for the forms: (legend, [field names]).
SECTIONS: list[tuple[str, list[str]]] = [
    (
        "What happened",
        ["description", "ongoing", "incident_date", "incident_time", "location", "circumstances"],
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

# The staff intake checklist's own fields (DESIGN §2), with the labels the
# case page shows.
CHECKLIST_LABELS = {
    "intake_at": "Time of intake",
    "taken_by": "Report taken in person by",
    "reporter_anonymous": "The reporter chose to stay anonymous",
    "reporter_badge": "Reporter's badge number",
    "law_enforcement_requested": "The reporter asked us to contact law enforcement",
}


class ReportContent(TypedDict, total=False):
    """A submission's content once decrypted: the stored fields of FIELDS,
    the staff checklist's (CHECKLIST_LABELS) for a report taken in person,
    or only a description for an addition. Dates and times are ISO strings."""

    description: str
    incident_date: str
    incident_time: str
    location: str
    circumstances: str
    reported_name: str
    reported_appearance: str
    reported_height: str
    reported_clothing: str
    reported_voice: str
    reported_badge: str
    reported_email: str
    reported_handle: str
    witnesses: str
    safety_concerns: str
    desired_outcome: str
    reporter_name: str
    reporter_contact: str
    consent_contact: bool
    consent_public: str
    intake_at: str
    taken_by: str
    reporter_anonymous: bool
    reporter_badge: str
    law_enforcement_requested: bool


def report_rows(content: ReportContent) -> list[tuple[str, str]]:
    """A decrypted report's fields in form order, with their labels; an
    addition (only a description) reads as "Added information"."""
    if set(content) == {"description"}:
        return [("Added information", content["description"])]
    choices: dict[object, str] = dict(PublicStatementConsent.choices)
    rows = []
    for field in FIELDS:
        value = content.get(field.name)
        if field.kind == "choice":
            value = choices.get(value, value)
        elif isinstance(value, bool):
            value = "Yes" if value else "No"
        if value not in (None, ""):
            rows.append((field.label, str(value)))
    return rows


def checklist_rows(content: ReportContent) -> list[tuple[str, str]]:
    """The checklist's fields of a decrypted report, labelled, for the case page."""
    rows = []
    for name, label in CHECKLIST_LABELS.items():
        value = content.get(name)
        if isinstance(value, bool):
            value = "Yes" if value else ""
        if value not in (None, ""):
            rows.append((label, str(value)))
    return rows
