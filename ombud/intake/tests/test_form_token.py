"""The same report form sent twice (a double click, a reload that sends the
form again, a retry after a slow answer) makes one case (issue 12, item 14).
Each form carries a random token; the first post with it files the case, any
later one answers that it was sent already, without the receipt. Only a keyed
hash of the token is stored, and housekeeping forgets it after a week."""

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from conftest import browser
from ombud.cases.models import Case
from ombud.intake.models import FormToken
from ombud.lib import crypto
from ombud.lib.housekeeping import housekeeping_run

INTAKE = "/org-a/staff/intake/"


def text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return " ".join(html.unescape(body).split())


def form_token(response) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', response.content.decode()).group(1)


def database_text() -> str:
    """Every value in every table, as text: what a copy of the database shows."""
    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from the schema
            values += [
                repr(bytes(v) if isinstance(v, memoryview) else v) for row in cursor for v in row
            ]
    return "\n".join(values)


def test_the_report_form_sent_twice_makes_one_case(client, people):
    url = people.event_a.get_report_url()
    token = form_token(client.get(url))
    data = {"description": "Sent with a double click.", "consent_public": "no", "form_token": token}

    first = client.post(url, data)
    second = client.post(url, data)

    assert first.status_code == 200 and first.context["receipt"]
    assert second.status_code == 200
    page = text(second)
    assert "This report was already sent" in page
    assert "your receipt was shown when you sent it" in page
    assert first.context["receipt"] not in second.content.decode()
    assert Case.objects.count() == 1
    # Only a keyed hash of the token is stored.
    assert FormToken.objects.filter(lookup=crypto.token_hash("form-token", token.encode())).exists()
    assert token not in database_text()
    # The next form is a new one.
    assert form_token(client.get(url)) != token


def test_a_refused_form_keeps_its_token_and_the_corrected_one_goes_through_once(client, people):
    url = people.event_a.get_report_url()
    token = form_token(client.get(url))
    refused = client.post(url, {"description": " ", "form_token": token})
    assert refused.status_code == 400
    assert form_token(refused) == token
    data = {"description": "Now with a description.", "form_token": token}
    assert "receipt" in client.post(url, data).context
    assert "This report was already sent" in text(client.post(url, data))
    assert Case.objects.count() == 1


def test_two_forms_make_two_cases(client, people):
    url = people.event_a.get_report_url()
    for token in (form_token(client.get(url)), form_token(client.get(url))):
        assert client.post(url, {"description": "x", "form_token": token}).context["receipt"]
    assert Case.objects.count() == 2


@pytest.mark.parametrize("token", ["", "x" * 10_000, "\x00\r\n<b>", "日本語"])
def test_a_missing_or_odd_token_is_no_problem(client, people, token):
    url = people.event_a.get_report_url()
    response = client.post(url, {"description": "x", "form_token": token})
    assert response.status_code in (200, 400)
    assert response.status_code == 200 or "form_token" in response.context["form"].errors


def test_staff_intake_sent_twice_makes_one_case(people):
    bob = browser(people.bob)
    token = form_token(bob.get(INTAKE))
    data = {
        "event": "pyconf",
        "description": "Taken in the hallway.",
        "consent_public": "no",
        "action": "submit",
        "form_token": token,
    }
    first = bob.post(INTAKE, data)
    second = bob.post(INTAKE, data)
    assert first.status_code == 200 and first.context["receipt"]
    case = Case.objects.get()
    assert second.status_code == 200
    page = text(second)
    assert f"This report was already sent as case #{case.number}" in page
    assert "the receipt was shown when it was sent" in page
    assert first.context["receipt"] not in second.content.decode()
    assert Case.objects.count() == 1


def test_a_used_token_posted_to_another_organisations_form_files_nothing(people):
    """A sent form's token stays sent wherever it is posted again."""
    url_a = people.event_a.get_report_url()
    client = browser()
    token = form_token(client.get(url_a))
    client.post(url_a, {"description": "x", "form_token": token})
    response = client.post(
        people.event_b.get_report_url(), {"description": "y", "form_token": token}
    )
    assert "This report was already sent" in text(response)
    assert Case.objects.filter(organisation=people.org_b).count() == 0


def test_housekeeping_forgets_tokens_after_a_week(client, people):
    url = people.event_a.get_report_url()
    token = form_token(client.get(url))
    client.post(url, {"description": "x", "form_token": token})
    now = timezone.now()
    assert housekeeping_run(now + timedelta(days=6))["report form tokens"] == 0
    assert housekeeping_run(now + timedelta(days=7, seconds=1))["report form tokens"] == 1
    assert not FormToken.objects.exists() and Case.objects.count() == 1
