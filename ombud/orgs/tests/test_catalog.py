"""The chair keeps the response catalog and the organisation's settings: add,
rename, re-grade and retire responses without breaking the cases that used
them; set the clocks. Who may reach these pages at all is in the access
matrix; one quick check of each refusal is here."""

import html
import re

import pytest

from conftest import browser
from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.orgs.models import Organisation, ResponseType

CATALOG = "/org-a/staff/catalog/"
SETTINGS = "/org-a/staff/settings/"
SEVERITY_ERROR = "Severity goes from 1 (mild) to 5 (severe)."


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def edit_url(response_type) -> str:
    return f"{CATALOG}{response_type.pk}/"


def edit_post(response_type, *, name=None, severity=None, retired=False) -> dict:
    """The catalog row's form, as the browser sends it."""
    prefix = f"rt{response_type.pk}-"
    data = {
        prefix + "name": response_type.name if name is None else name,
        prefix + "severity": str(response_type.severity if severity is None else severity),
    }
    if retired:
        data[prefix + "retired"] = "on"
    return data


def catalog_state(organisation) -> list:
    return list(
        ResponseType.objects.filter(organisation=organisation).values_list(
            "pk", "name", "severity", "retired", "position"
        )
    )


def audit_data(type_) -> list:
    return list(
        AuditEvent.objects.filter(type=type_).order_by("seq").values_list("data", flat=True)
    )


@pytest.fixture
def alice(people):
    return browser(people.alice)


@pytest.fixture
def warning(people):
    return ResponseType.objects.get(organisation=people.org_a, name="A warning")


def test_the_catalog_starts_with_the_procedures_responses(people, alice):
    page = alice.get(CATALOG).content.decode()
    for name in ("No further action", "Banning from future events", "Removing membership"):
        assert f'value="{name}"' in page
    assert people.org_a.response_types.count() == 14


def test_chair_adds_a_response(people, alice):
    response = alice.post(CATALOG, {"name": "A written apology", "severity": "2"})

    assert response.status_code == 302
    assert "“A written apology” added to the catalog." in text(alice.get(response["Location"]))
    added = ResponseType.objects.get(organisation=people.org_a, name="A written apology")
    assert (added.severity, added.retired) == (2, False)
    assert (
        added.position
        == max(people.org_a.response_types.exclude(pk=added.pk).values_list("position", flat=True))
        + 1
    )
    assert audit_data(AuditType.RESPONSE_TYPE_CREATED) == [{"response_type": added.pk}]
    assert not ResponseType.objects.filter(organisation=people.org_b, name="A written apology")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "Too mild", "severity": "0"}, SEVERITY_ERROR),
        ({"name": "Too harsh", "severity": "9"}, SEVERITY_ERROR),
        ({"name": "Harsher", "severity": "9" * 30}, SEVERITY_ERROR),
        ({"name": "Negative", "severity": "-1"}, "greater than or equal to"),
        ({"name": "Words", "severity": "severe"}, "Enter a whole number."),
        ({"name": "   ", "severity": "1"}, "This field is required."),
        ({"name": "x" * 201, "severity": "1"}, "at most 200 characters"),
        ({"severity": "1"}, "This field is required."),
    ],
)
def test_adding_a_response_refuses_bad_input_with_a_message(people, alice, data, message):
    before = catalog_state(people.org_a)
    response = alice.post(CATALOG, data)
    assert response.status_code == 400
    assert message in text(response)
    assert catalog_state(people.org_a) == before


def test_chair_renames_regrades_and_retires_a_response(people, alice, warning):
    response = alice.post(
        edit_url(warning), edit_post(warning, name="A formal warning", severity=2)
    )
    assert response.status_code == 302
    assert "“A formal warning” saved." in text(alice.get(response["Location"]))
    warning.refresh_from_db()
    assert (warning.name, warning.severity, warning.retired) == ("A formal warning", 2, False)

    for bad in (0, 9):
        before = catalog_state(people.org_a)
        response = alice.post(edit_url(warning), edit_post(warning, severity=bad), follow=True)
        assert f"Not saved: {SEVERITY_ERROR}" in text(response)
        assert catalog_state(people.org_a) == before

    assert alice.post(edit_url(warning), edit_post(warning, retired=True)).status_code == 302
    warning.refresh_from_db()
    assert warning.retired
    page = alice.get(CATALOG).content.decode()
    assert re.search(r'<li class="retired">\s*<form[^>]*action="' + edit_url(warning), page)
    assert audit_data(AuditType.RESPONSE_TYPE_UPDATED) == [
        {"response_type": warning.pk, "fields": ["name", "severity"]},
        {"response_type": warning.pk, "fields": ["retired"]},
    ]

    # Brought back from retirement.
    assert alice.post(edit_url(warning), edit_post(warning)).status_code == 302
    warning.refresh_from_db()
    assert not warning.retired


def test_a_retired_response_stays_on_the_decisions_that_used_it(
    people, alice, warning, submit_report
):
    bob = browser(people.bob)
    case, _ = submit_report(people.event_a)
    case_url = f"/org-a/staff/cases/{case.number}/"
    assert bob.post(case_url + "meeting/", {"attendees": "Alice, Bob"}).status_code == 302
    decision = {
        "violation": "yes",
        "rationale": "Agreed by all.",
        f"response_{warning.pk}": "on",
        f"owner_{warning.pk}": str(people.bob.pk),
    }
    assert bob.post(case_url + "decision/", decision).status_code == 302
    offered = bob.get(case_url).context["forms"]["decision"].fields
    assert f"response_{warning.pk}" in offered

    assert alice.post(edit_url(warning), edit_post(warning, retired=True)).status_code == 302

    page = bob.get(case_url)
    assert f"response_{warning.pk}" not in page.context["forms"]["decision"].fields
    assert f'name="response_{warning.pk}"' not in page.content.decode()
    assert "A warning (Bob)" in text(page)  # still on the decision that chose it

    # Renaming it later shows the new name there too; the decision is not broken.
    assert alice.post(edit_url(warning), edit_post(warning, name="A warning (old)", retired=True))
    assert "A warning (old) (Bob)" in text(bob.get(case_url))


def test_a_new_response_is_offered_in_decisions(people, alice, submit_report):
    case, _ = submit_report(people.event_a)
    assert alice.post(CATALOG, {"name": "A written apology", "severity": "2"}).status_code == 302
    added = ResponseType.objects.get(organisation=people.org_a, name="A written apology")
    page = browser(people.bob).get(f"/org-a/staff/cases/{case.number}/")
    assert f"response_{added.pk}" in page.context["forms"]["decision"].fields


def test_only_the_chair_edits_and_only_their_own_catalog(people, alice, warning):
    before = catalog_state(people.org_a)
    bob = browser(people.bob)
    assert bob.get(CATALOG).status_code == 403
    assert bob.post(edit_url(warning), edit_post(warning, name="Hacked")).status_code == 403
    charlie = browser(people.charlie)
    assert charlie.post(edit_url(warning), edit_post(warning, name="Hacked")).status_code == 404
    # Org B's chair editing an org A response through org B's address: not theirs.
    assert (
        charlie.post(
            f"/org-b/staff/catalog/{warning.pk}/", edit_post(warning, name="Hacked")
        ).status_code
        == 404
    )
    # Nor a response that does not exist, whatever the number.
    for pk in ("999999", "9" * 30):
        assert alice.post(f"{CATALOG}{pk}/", {}).status_code == 404
    assert catalog_state(people.org_a) == before


# --- organisation settings ----------------------------------------------------------------

GOOD_SETTINGS = {
    "escalation_minutes": "5",
    "meeting_hours": "12",
    "followup_days": "3",
    "two_person_severity": "4",
    "page_shows_location": "on",
}


def test_chair_saves_the_settings_and_it_is_audited(people, alice):
    response = alice.post(SETTINGS, GOOD_SETTINGS)

    assert response.status_code == 302
    assert "Settings saved." in text(alice.get(response["Location"]))
    org = Organisation.objects.get(pk=people.org_a.pk)
    assert (
        org.escalation_minutes,
        org.meeting_hours,
        org.followup_days,
        org.two_person_severity,
        org.page_shows_location,
        org.full_content_email,
    ) == (5, 12, 3, 4, True, False)
    assert audit_data(AuditType.ORGANISATION_SETTINGS_CHANGED) == [
        {
            "fields": [
                "escalation_minutes",
                "followup_days",
                "meeting_hours",
                "page_shows_location",
                "two_person_severity",
            ]
        }
    ]
    # The two-person rule is named on the catalog page.
    assert "Responses of severity 4 or more need a second responder" in text(alice.get(CATALOG))
    # Organisation B is untouched.
    assert Organisation.objects.get(pk=people.org_b.pk).escalation_minutes == 10


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("escalation_minutes", "0", "Must be at least 1."),
        ("meeting_hours", "0", "Must be at least 1."),
        ("followup_days", "0", "Must be at least 1."),
        ("escalation_minutes", "-5", "greater than or equal to 0"),
        ("escalation_minutes", "9" * 30, "Must be at most 32767."),
        ("followup_days", "32768", "Must be at most 32767."),
        ("escalation_minutes", "", "This field is required."),
        ("two_person_severity", "0", "Severity goes from 1 (mild) to 5 (severe); leave empty"),
        ("two_person_severity", "9", "Severity goes from 1 (mild) to 5 (severe); leave empty"),
    ],
)
def test_settings_refuse_bad_values_with_a_message(people, alice, field, value, message):
    before = Organisation.objects.filter(pk=people.org_a.pk).values().get()
    audits = AuditEvent.objects.count()

    response = alice.post(SETTINGS, {**GOOD_SETTINGS, field: value})

    assert response.status_code == 400
    assert message in text(response)
    assert Organisation.objects.filter(pk=people.org_a.pk).values().get() == before
    assert AuditEvent.objects.count() == audits


def test_the_two_person_rule_can_be_switched_off(people, alice):
    assert alice.post(SETTINGS, GOOD_SETTINGS).status_code == 302
    assert alice.post(SETTINGS, {**GOOD_SETTINGS, "two_person_severity": ""}).status_code == 302
    assert Organisation.objects.get(pk=people.org_a.pk).two_person_severity is None


def test_only_the_chair_changes_settings(people):
    assert browser(people.bob).post(SETTINGS, GOOD_SETTINGS).status_code == 403
    assert browser(people.charlie).post(SETTINGS, GOOD_SETTINGS).status_code == 404
    assert Organisation.objects.get(pk=people.org_a.pk).escalation_minutes == 10
