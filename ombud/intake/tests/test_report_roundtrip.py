"""The public report form, end to end: what a reporter writes is exactly what a
responder reads, and a refused form tells the reporter why and stores nothing."""

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client
from django_tasks_db.models import DBTaskResult

from ombud.audit.models import AuditEvent
from ombud.cases.models import Case, ConsentRecord, Exclusion, Grant, Submission
from ombud.intake.forms import ReportForm

# Mixed scripts, an emoji ZWJ sequence, RTL with a mark, CJK, and markup that
# must come back as text.
UNICODE = "Ünïcode — 日本語の報告 · مرحبا بالعالم \u200f· שלום · 👩🏽\u200d💻 🙂"
MARKUP = "<script>alert('x')</script> & <b>bold</b> \"quoted\" 'single' &amp; &lt;"


def long_description(length=20_000):
    """A 20,000-character description with line breaks, unicode and markup."""
    head = f"First line: {UNICODE}\nSecond line: {MARKUP}\n\n"
    tail = "\nLast line, the end."
    body = ("Zeile ✓ 線 ") * length
    text = head + body[: length - len(head) - len(tail)] + tail
    assert len(text) == length
    return text


def all_fields(people):
    """A value for every field of the form, each distinct."""
    return {
        "description": long_description(),
        "ongoing": "on",
        "incident_date": "2025-05-04",
        "incident_time": "14:30",
        "location": f"Hall B — 会議室 {MARKUP}",
        "circumstances": f"After the keynote.\nBy the coffee 咖啡 ☕\n{MARKUP}",
        "reported_name": "Émile Zoë O'Brien-Müller",
        "reported_appearance": "Tall, beard — لحية",
        "reported_height": "~190 cm",
        "reported_clothing": "Red hoodie with a 🦄",
        "reported_voice": "Soft, Québécois accent",
        "reported_badge": "#4711",
        "reported_email": "emile@example.org",
        "reported_handle": "@emile@social.example, emile#1234",
        "witnesses": "Kim (kim@example.net)\nA person in a 黄色 jacket",
        "safety_concerns": "He knows where I sit.\nאני מפחד",  # noqa: RUF001 - Hebrew on purpose
        "desired_outcome": "A warning & no further contact <please>",
        "reporter_name": "Ренат Ходжа",
        "reporter_contact": "renat@example.com",
        "consent_contact": "on",
        "consent_public": "anonymous",
        "exclude": [str(people.dave.pk)],
    }


class ReportRows(HTMLParser):
    """The report section of a case page: (label, text) per <dt>/<dd>, with
    entities decoded and <br> read as a line break. Any other element inside a
    value is recorded, because report content must never become markup."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows, self.tags_in_values = [], []
        self._in_report = False
        self._cell = None
        self._label = None
        self._text = []

    def handle_starttag(self, tag, attrs):
        if tag == "dl" and "report" in (dict(attrs).get("class") or "").split():
            self._in_report = True
        elif self._in_report and tag in ("dt", "dd"):
            self._cell, self._text = tag, []
        elif self._in_report and self._cell == "dd":
            if tag == "br":
                self._text.append("\n")
            else:
                self.tags_in_values.append(tag)

    def handle_endtag(self, tag):
        if not self._in_report:
            return
        if tag == "dl":
            self._in_report = False
        elif tag == "dt":
            self._label, self._cell = "".join(self._text), None
        elif tag == "dd":
            self.rows.append((self._label, "".join(self._text)))
            self._cell = None

    def handle_data(self, data):
        if self._cell:
            self._text.append(data)


def report_rows(html: str) -> ReportRows:
    parser = ReportRows()
    parser.feed(html)
    return parser


class FormValues(HTMLParser):
    """What a browser would send back from a rendered form: name -> values of
    filled inputs, checked boxes and radios, and textareas."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.values = {}
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") not in ("submit", "hidden"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            value = attrs.get("value", "on" if attrs.get("type") == "checkbox" else "")
            if value:
                self.values.setdefault(attrs["name"], []).append(value)
        elif tag == "textarea":
            self._textarea = [attrs["name"], ""]

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea:
            name, text = self._textarea
            # A browser drops the one newline right after <textarea>.
            text = text.removeprefix("\r\n").removeprefix("\n")
            if text:
                self.values.setdefault(name, []).append(text)
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._textarea[1] += data


def form_values(html: str) -> dict:
    parser = FormValues()
    parser.feed(html)
    return parser.values


def visible_text(html: str) -> str:
    return re.sub(r"<[^>]*>", "", html)


def label(name):
    return ReportForm.base_fields[name].label


def stored_counts():
    return {
        model.__name__: model.objects.count()
        for model in (Case, Submission, Grant, Exclusion, ConsentRecord, AuditEvent, DBTaskResult)
    }


# --- round trip ----------------------------------------------------------------------


def test_every_field_round_trips_to_the_responder(client, people, submit_report, login):
    fields = all_fields(people)
    case, _ = submit_report(people.event_a, **fields)

    login(people.bob)
    response = client.get(f"/org-a/staff/cases/{case.number}/")
    assert response.status_code == 200
    html = response.content.decode()
    parsed = report_rows(html)
    rows = dict(parsed.rows)

    text_fields = [
        name
        for name, field in ReportForm.base_fields.items()
        if field.__class__.__name__ == "CharField"
    ]
    assert len(text_fields) == 16  # every free-text field of DESIGN §2 "Report data"
    for name in text_fields:
        assert rows.get(label(name)) == fields[name], f"{name} did not round-trip"
    assert len(rows[label("description")]) == 20_000
    assert rows[label("incident_date")] == "2025-05-04"
    assert rows[label("incident_time")] in ("14:30", "14:30:00")
    assert rows[label("consent_contact")] == "Yes"
    assert rows[label("consent_public")] == "Anonymously"
    # Only these rows, each once: nothing invented, nothing duplicated.
    assert len(parsed.rows) == len(rows) == len(text_fields) + 4

    # Markup typed by the reporter is shown as text, never as markup.
    assert parsed.tags_in_values == []
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "&amp;amp;" in html

    # The checkbox and the exclusion took effect.
    assert case.urgent and 'class="badge ongoing"' in html
    assert "Dave (excluded by the reporter)" in html
    assert set(Grant.objects.filter(case=case).values_list("user__email", flat=True)) == {
        "alice@a.example",
        "bob@a.example",
    }
    consent = ConsentRecord.objects.get(case=case)
    assert consent.may_contact and consent.public_statement == "anonymous"


def test_description_only_report_works(client, people, login):
    response = client.post(people.event_a.get_report_url(), {"description": "Just this."})
    assert response.status_code == 200, response.content[:2000]
    case = Case.objects.get()
    assert not case.urgent
    assert Grant.objects.filter(case=case).count() == 3
    # Consent not given is the safe answer: no contact, no public statement.
    consent = ConsentRecord.objects.get(case=case)
    assert not consent.may_contact and consent.public_statement == "no"

    login(people.bob)
    html = client.get(f"/org-a/staff/cases/{case.number}/").content.decode()
    rows = dict(report_rows(html).rows)
    assert rows[label("description")] == "Just this."
    assert rows[label("consent_public")] == "Not at all"
    assert label("location") not in rows  # empty fields are not shown as blanks


def test_report_page_preselects_the_safe_consent_answers(client, people):
    form = client.get(people.event_a.get_report_url()).context["form"]
    assert form["consent_public"].value() == "no"
    assert "Dave" in {str(label) for _, label in form.fields["exclude"].choices}


# --- refused forms ---------------------------------------------------------------


def post_refused(client, url, data):
    before = stored_counts()
    response = client.post(url, data)
    assert response.status_code == 400, response.content[:2000]
    assert stored_counts() == before, "a refused report stored something"
    return response, response.content.decode()


@pytest.mark.parametrize("description", ["", "   ", "\n\t \r\n"])
def test_empty_description_is_refused_keeping_what_was_typed(client, people, description):
    data = {
        "description": description,
        "ongoing": "on",
        "incident_date": "2025-05-04",
        "location": "Hall B — 会議室",
        "reported_name": "<Émile>",
        "witnesses": "Kim\nand Lee",
        "consent_public": "named",
        "exclude": [str(people.dave.pk)],
    }
    response, html = post_refused(client, people.event_a.get_report_url(), data)
    form = response.context["form"]
    assert form.errors["description"] == ["Please describe what happened, even briefly."]
    assert list(form.errors) == ["description"]
    assert "Please describe what happened, even briefly." in html
    assert "Nothing has been sent yet" in html
    # Everything else is still there to fix and resend.
    values = form_values(html)
    assert values["location"] == ["Hall B — 会議室"]
    assert values["reported_name"] == ["<Émile>"]
    assert values["witnesses"] == ["Kim\nand Lee"]
    assert values["incident_date"] == ["2025-05-04"]
    assert values["ongoing"] == ["on"]
    assert values["consent_public"] == ["named"]
    assert values["exclude"] == [str(people.dave.pk)]


def test_body_over_one_megabyte_is_refused_not_a_500(people):
    # As a browser does it: get the form (and its CSRF token), then post.
    browser = Client(enforce_csrf_checks=True)
    url = people.event_a.get_report_url()
    token = browser.get(url).cookies["csrftoken"].value
    before = stored_counts()
    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = browser.post(url, {"csrfmiddlewaretoken": token, "description": big})
    assert response.status_code in (400, 413)
    html = response.content.decode()
    assert "too large" in html and "1 MB" in html and "Nothing was stored" in html
    assert stored_counts() == before


def test_body_just_under_the_limit_is_accepted(client, people, submit_report):
    # A full form near its maximum sizes is not refused as "too large".
    data = {
        name: "y" * field.max_length
        for name, field in ReportForm.base_fields.items()
        if field.__class__.__name__ == "CharField" and name != "description"
    }
    data["description"] = "d" * settings.OMBUD_DESCRIPTION_MAX
    case, _ = submit_report(people.event_a, **data)
    assert Submission.objects.filter(case=case).count() == 1


def test_description_over_the_maximum_is_a_clear_error(client, people):
    limit = settings.OMBUD_DESCRIPTION_MAX
    response, html = post_refused(
        client,
        people.event_a.get_report_url(),
        {"description": "a" * (limit + 1), "location": "kept"},
    )
    message = f"Ensure this value has at most {limit} characters (it has {limit + 1})."
    assert response.context["form"].errors["description"] == [message]
    assert message in html and form_values(html)["location"] == ["kept"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("incident_date", "2025-02-30", "Enter a valid date."),
        ("incident_date", "yesterday-ish", "Enter a valid date."),
        ("incident_time", "25:61", "Enter a valid time."),
        ("location", "L" * 2001, "Ensure this value has at most 2000 characters (it has 2001)."),
    ],
)
def test_invalid_optional_values_are_clear_errors(client, people, field, value, message):
    response, html = post_refused(
        client,
        people.event_a.get_report_url(),
        {"description": "Something happened.", field: value},
    )
    assert response.context["form"].errors[field] == [message]
    assert message in html
    assert form_values(html)["description"] == ["Something happened."]


def test_excluding_every_responder_is_refused(client, people):
    everyone = [str(user.pk) for user in (people.alice, people.bob, people.dave)]
    response, html = post_refused(
        client,
        people.event_a.get_report_url(),
        {"description": "Something happened.", "exclude": everyone},
    )
    message = "Leave at least one responder who can read your report."
    assert response.context["form"].errors["exclude"] == [message]
    assert message in html


@pytest.mark.parametrize("who", ["unknown", "other organisation", "not a number"])
def test_excluding_someone_not_on_the_team_is_refused(client, people, who):
    value = {
        "unknown": "999999",
        "other organisation": str(people.charlie.pk),
        "not a number": "alice",
    }[who]
    response, html = post_refused(
        client,
        people.event_a.get_report_url(),
        {"description": "Something happened.", "exclude": [value]},
    )
    message = f"Select a valid choice. {value} is not one of the available choices."
    assert response.context["form"].errors["exclude"] == [message]
    assert message in html


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(
    "url", ["/org-a/closed/report/", "/org-a/meetup/report/", "/org-x/pyconf/report/"]
)
def test_no_form_for_closed_events_or_other_organisations_events(client, people, method, url):
    people.event_a.__class__.objects.create(
        organisation=people.org_a, name="Closed", slug="closed", accepts_reports=False
    )
    before = stored_counts()
    response = getattr(client, method)(url, {"description": "Something happened."})
    assert response.status_code == 404
    assert stored_counts() == before


# --- the receipt ------------------------------------------------------------------


def test_receipt_is_shown_once_and_never_in_a_url(client, people):
    url = people.event_a.get_report_url()
    response = client.post(url, {"description": "Something happened."})
    assert response.status_code == 200  # the answer itself, not a redirect
    assert "Location" not in response.headers
    receipt = response.context["receipt"]
    assert not any(receipt in value for value in response.headers.values())
    html = response.content.decode()
    # Shown once, as text the reporter can read and copy (however it is wrapped).
    assert visible_text(html).count(receipt) == 1
    assert "Save your receipt now" in html and "only once" in html
    for attribute in ("href", "src", "action"):
        for value in html.split(f'{attribute}="')[1:]:
            link = value.split('"', 1)[0]
            assert receipt not in link and receipt.replace("-", "") not in link
    assert all(receipt not in morsel.value for morsel in response.cookies.values())
    assert all(receipt not in str(value) for value in client.session.values())
    # Coming back to the form does not show it again.
    again = client.get(url).content.decode()
    assert receipt not in again and receipt.replace("-", "") not in again


@pytest.mark.parametrize("method", ["get", "post"])
def test_report_pages_are_never_cached(client, people, method):
    response = getattr(client, method)(
        people.event_a.get_report_url(), {"description": "Something happened."}
    )
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


def test_refused_report_page_is_never_cached(client, people):
    response = client.post(people.event_a.get_report_url(), {"description": ""})
    assert response.status_code == 400
    assert "no-store" in response.headers["Cache-Control"]
