"""The report schema is the one place a report's fields are defined: the
forms, the typed content and the case page follow it."""

import pytest

from ombud.cases import schema
from ombud.cases.schema import CHECKLIST_LABELS, FIELDS, ReportContent, report_rows
from ombud.intake.forms import ReportForm
from ombud.intake.forms_staff import StaffReportForm


def test_report_content_has_a_key_for_every_stored_field_and_nothing_else():
    stored = {field.name for field in FIELDS if field.stored}
    assert set(ReportContent.__annotations__) == stored | set(CHECKLIST_LABELS)


def test_every_field_is_in_exactly_one_section():
    in_sections = [name for _legend, names in schema.SECTIONS for name in names]
    assert sorted(in_sections) == sorted(field.name for field in FIELDS)


def test_the_public_form_asks_every_field_in_schema_order():
    names = list(ReportForm.base_fields)
    assert names[: len(FIELDS)] == [field.name for field in FIELDS]
    assert names[len(FIELDS) :] == ["attachments", "exclude", "form_token"]
    for field in FIELDS:
        assert ReportForm.base_fields[field.name].label == field.label


def test_the_staff_form_has_the_schema_fields_and_the_checklist():
    names = set(StaffReportForm.base_fields)
    assert {field.name for field in FIELDS} <= names
    assert set(CHECKLIST_LABELS) - {"taken_by"} <= names


@pytest.mark.parametrize("kind", ["text", "area", "bool", "date", "time", "choice"])
def test_each_kind_is_used_by_some_field(kind):
    assert any(field.kind == kind for field in FIELDS)


def test_content_saved_by_the_form_reads_back_with_the_schema_labels():
    form = ReportForm(
        {
            "description": "It happened.",
            "incident_date": "2026-06-01",
            "reported_badge": "1234",
            "consent_contact": "on",
            "consent_public": "anonymous",
        }
    )
    assert form.is_valid(), form.errors
    rows = dict(report_rows(form.content()))
    assert rows["What happened?"] == "It happened."
    assert rows["Date"] == "2026-06-01"
    assert rows["Badge number"] == "1234"
    assert rows["You may contact me about this report"] == "Yes"
    assert "ongoing" not in form.content()
