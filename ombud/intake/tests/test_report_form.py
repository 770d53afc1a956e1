from ombud.cases.models import Case, Grant


def test_report_page_shows_emergency_box_first(client, people):
    response = client.get(people.event_a.get_report_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Is someone in physical danger?") < html.index("<form")
    assert "112" in html and "+1 555 0100" in html and "Desk in the lobby" in html
    assert "report it anyway" in html


def test_minimal_report_creates_case_with_grants_for_team(client, people, submit_report):
    case, receipt = submit_report(people.event_a)
    assert case.organisation == people.org_a and case.number == 1
    assert set(Grant.objects.filter(case=case).values_list("user__email", flat=True)) == {
        "alice@a.example",
        "bob@a.example",
        "dave@a.example",
    }
    assert len(receipt.replace("-", "")) == 32


def test_responder_reads_report(client, people, submit_report, login):
    case, _ = submit_report(
        people.event_a, description="Ünïcode — 日本語 report", location="Hall B"
    )
    login(people.bob)
    response = client.get(f"/org-a/staff/cases/{case.number}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ünïcode — 日本語 report" in html and "Hall B" in html


def test_empty_description_stores_nothing(client, people):
    response = client.post(
        people.event_a.get_report_url(), {"description": "  ", "location": "kept"}
    )
    assert response.status_code == 400
    assert "Please describe what happened" in response.content.decode()
    assert 'value="kept"' in response.content.decode()
    assert Case.objects.count() == 0
