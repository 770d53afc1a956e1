"""A chair sets up events from the staff UI: name, dates, the public report
address, the emergency contacts shown first on the report page and the team
email address. Nobody else may, and nothing outside the form's fields moves."""

import pytest
from django.test import Client

from conftest import browser
from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.orgs.models import Event

EVENTS = "/org-a/staff/events/"
NEW = "/org-a/staff/events/new/"


def event_post(**overrides) -> dict:
    data = {
        "name": "Sprint day",
        "slug": "sprints",
        "starts_on": "2030-05-01",
        "ends_on": "2030-05-02",
        "timezone": "Europe/Berlin",
        "accepts_reports": "on",
        "team_email": "conduct@sprints.example",
        "emergency_number": "112",
        "crisis_line": "+49 800 111 0111",
        "non_emergency_number": "110-NONURGENT",
        "venue_security": "Security desk at gate 3, +49 30 555 0199",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def edit_post(event: Event, **overrides) -> dict:
    """The edit form as the browser would send it back, with some changes."""
    data = {
        "name": event.name,
        "slug": event.slug,
        "starts_on": event.starts_on.isoformat() if event.starts_on else "",
        "ends_on": event.ends_on.isoformat() if event.ends_on else "",
        "timezone": event.timezone,
        "accepts_reports": "on" if event.accepts_reports else None,
        "team_email": event.team_email,
        "emergency_number": event.emergency_number,
        "crisis_line": event.crisis_line,
        "non_emergency_number": event.non_emergency_number,
        "venue_security": event.venue_security,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def emergency_box(response) -> str:
    html = response.content.decode()
    start = html.index('<section class="emergency"')
    return html[start : html.index("</section>", start)]


def field_errors(response, name) -> list[str]:
    return list(response.context["form"].errors.get(name, []))


@pytest.fixture
def alice(people):
    return browser(people.alice)


# --- what the chair sees and does ------------------------------------------------


def test_chair_lists_events_including_the_standing_one(people, alice):
    response = alice.get(EVENTS)
    assert response.status_code == 200
    listed = list(response.context["events"])
    assert {e.slug for e in listed} == {"general", "pyconf"}
    assert listed[0].is_standing, "the organisation-wide event comes first"
    html = response.content.decode()
    assert "PyConf A" in html
    assert "Org A (online spaces and anywhere else)" in html
    assert "/org-a/pyconf/report/" in html
    assert "Meetup B" not in html, "another organisation's events are not listed"


def test_chair_creates_an_event_and_its_report_page_shows_the_contacts(people, alice):
    assert alice.get(NEW).status_code == 200

    response = alice.post(NEW, event_post())
    assert response.status_code == 302
    assert response.url == EVENTS

    event = Event.objects.get(organisation=people.org_a, slug="sprints")
    assert event.name == "Sprint day"
    assert event.team_email == "conduct@sprints.example"
    assert str(event.starts_on) == "2030-05-01"
    assert str(event.ends_on) == "2030-05-02"
    assert event.timezone == "Europe/Berlin"
    assert event.accepts_reports
    assert not event.is_standing

    listing = alice.get(EVENTS).content.decode()
    assert "Sprint day" in listing
    assert "/org-a/sprints/report/" in listing

    page = Client().get("/org-a/sprints/report/")
    assert page.status_code == 200
    box = emergency_box(page)
    for contact in (
        "112",
        "+49 800 111 0111",
        "110-NONURGENT",
        "Security desk at gate 3, +49 30 555 0199",
    ):
        assert contact in box
    html = page.content.decode()
    assert html.index('<section class="emergency"') < html.index("<form"), (
        "the emergency box comes before the form"
    )


def test_create_writes_an_audit_event(people, alice):
    before = AuditEvent.objects.filter(organisation=people.org_a).count()
    alice.post(NEW, event_post())
    event = Event.objects.get(organisation=people.org_a, slug="sprints")

    events = AuditEvent.objects.filter(organisation=people.org_a).order_by("seq")
    assert events.count() == before + 1
    last = events.last()
    assert last.type == AuditType.EVENT_CREATED
    assert last.actor_id == people.alice.pk
    assert last.data["event"] == event.pk
    assert not AuditEvent.objects.filter(organisation=people.org_b, type=AuditType.EVENT_CREATED)


def test_edit_form_shows_the_current_values(people, alice):
    response = alice.get("/org-a/staff/events/pyconf/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="PyConf A"' in html
    assert 'value="+1 555 0100"' in html
    assert 'value="Desk in the lobby"' in html


def test_chair_changes_the_emergency_number_and_the_report_page_follows(people, alice):
    assert "112" in emergency_box(Client().get("/org-a/pyconf/report/"))

    response = alice.post(
        "/org-a/staff/events/pyconf/",
        edit_post(people.event_a, emergency_number="999", team_email="team@pyconf.example"),
    )
    assert response.status_code == 302

    people.event_a.refresh_from_db()
    assert people.event_a.emergency_number == "999"
    assert people.event_a.team_email == "team@pyconf.example"
    box = emergency_box(Client().get("/org-a/pyconf/report/"))
    assert "999" in box
    assert "112" not in box

    last = AuditEvent.objects.filter(organisation=people.org_a).order_by("seq").last()
    assert last.type == AuditType.EVENT_UPDATED
    assert last.actor_id == people.alice.pk
    assert last.data == {"event": people.event_a.pk, "fields": ["emergency_number", "team_email"]}


def test_an_unchanged_save_is_still_audited_with_no_fields(people, alice):
    response = alice.post("/org-a/staff/events/pyconf/", edit_post(people.event_a))
    assert response.status_code == 302
    last = AuditEvent.objects.filter(organisation=people.org_a).order_by("seq").last()
    assert last.type == AuditType.EVENT_UPDATED
    assert last.data == {"event": people.event_a.pk, "fields": []}


def test_turning_off_reports_closes_the_report_page(people, alice, submit_report):
    assert Client().get("/org-a/pyconf/report/").status_code == 200

    response = alice.post(
        "/org-a/staff/events/pyconf/", edit_post(people.event_a, accepts_reports=None)
    )
    assert response.status_code == 302
    people.event_a.refresh_from_db()
    assert not people.event_a.accepts_reports

    anonymous = Client()
    assert anonymous.get("/org-a/pyconf/report/").status_code == 404
    assert anonymous.post("/org-a/pyconf/report/", {"description": "x"}).status_code == 404
    assert "PyConf A" not in anonymous.get("/org-a/").content.decode()
    # the chair still sees and can reopen it
    assert "PyConf A" in alice.get(EVENTS).content.decode()
    alice.post("/org-a/staff/events/pyconf/", edit_post(people.event_a, accepts_reports="on"))
    assert Client().get("/org-a/pyconf/report/").status_code == 200


def test_chair_can_move_an_event_to_a_new_address(people, alice):
    response = alice.post(
        "/org-a/staff/events/pyconf/", edit_post(people.event_a, slug="pyconf-2030")
    )
    assert response.status_code == 302
    assert Client().get("/org-a/pyconf-2030/report/").status_code == 200
    assert Client().get("/org-a/pyconf/report/").status_code == 404
    assert alice.get("/org-a/staff/events/pyconf-2030/").status_code == 200


# --- clear errors for bad input --------------------------------------------------


def test_duplicate_slug_in_the_same_organisation_is_a_form_error(people, alice):
    response = alice.post(NEW, event_post(slug="pyconf"))
    assert response.status_code == 400
    assert field_errors(response, "slug") == ["Another event already uses this address."]
    assert "Another event already uses this address." in response.content.decode()
    assert Event.objects.filter(organisation=people.org_a, slug="pyconf").count() == 1
    assert not Event.objects.filter(name="Sprint day").exists()


def test_renaming_to_a_slug_in_use_is_a_form_error(people, alice):
    response = alice.post("/org-a/staff/events/pyconf/", edit_post(people.event_a, slug="general"))
    assert response.status_code == 400
    assert field_errors(response, "slug") == ["Another event already uses this address."]
    people.event_a.refresh_from_db()
    assert people.event_a.slug == "pyconf"


def test_another_organisation_may_reuse_a_slug(people):
    charlie = browser(people.charlie)
    response = charlie.post(
        "/org-b/staff/events/new/", event_post(slug="pyconf", name="B's PyConf")
    )
    assert response.status_code == 302
    event = Event.objects.get(organisation=people.org_b, slug="pyconf")
    assert event.name == "B's PyConf"
    assert Client().get("/org-b/pyconf/report/").status_code == 200
    # org A's event of the same address is untouched
    people.event_a.refresh_from_db()
    assert people.event_a.name == "PyConf A"
    assert "112" in emergency_box(Client().get("/org-a/pyconf/report/"))


@pytest.mark.parametrize("slug", ["staff", "report", "static", "accounts"])
def test_reserved_slugs_are_refused(people, alice, slug):
    response = alice.post(NEW, event_post(slug=slug))
    assert response.status_code == 400
    errors = field_errors(response, "slug")
    assert errors and "reserved" in errors[0]
    assert f"“{slug}” is reserved; choose another." in response.content.decode()
    assert not Event.objects.filter(organisation=people.org_a, slug=slug).exists()


def test_an_existing_event_cannot_take_a_reserved_slug(people, alice):
    response = alice.post("/org-a/staff/events/pyconf/", edit_post(people.event_a, slug="staff"))
    assert response.status_code == 400
    assert "reserved" in field_errors(response, "slug")[0]
    assert "Edit PyConf A" in response.content.decode()
    people.event_a.refresh_from_db()
    assert people.event_a.slug == "pyconf"


@pytest.mark.parametrize("slug", ["not a slug", "ümlaut/../x", ""])
def test_malformed_slug_is_a_form_error(people, alice, slug):
    response = alice.post(NEW, event_post(slug=slug))
    assert response.status_code == 400
    assert field_errors(response, "slug")
    assert Event.objects.filter(organisation=people.org_a).count() == 2


def test_end_before_start_is_a_form_error(people, alice):
    response = alice.post(NEW, event_post(starts_on="2030-05-02", ends_on="2030-05-01"))
    assert response.status_code == 400
    assert field_errors(response, "ends_on") == ["The event cannot end before it starts."]
    assert "The event cannot end before it starts." in response.content.decode()
    assert not Event.objects.filter(slug="sprints").exists()


@pytest.mark.parametrize("field", ["starts_on", "ends_on"])
@pytest.mark.parametrize("value", ["31/12/2030", "2030-02-30", "soon"])
def test_malformed_date_is_a_form_error(people, alice, field, value):
    response = alice.post(NEW, event_post(**{field: value}))
    assert response.status_code == 400
    assert field_errors(response, field) == ["Enter a valid date."]
    assert not Event.objects.filter(slug="sprints").exists()


def test_invalid_team_email_is_a_form_error(people, alice):
    response = alice.post(NEW, event_post(team_email="not-an-address"))
    assert response.status_code == 400
    assert field_errors(response, "team_email")
    assert not Event.objects.filter(slug="sprints").exists()


@pytest.mark.parametrize("zone", ["Berlin", "Mars/Olympus_Mons", "../etc/passwd", ""])
def test_unknown_timezone_is_a_form_error(people, alice, zone):
    response = alice.post(NEW, event_post(timezone=zone))
    assert response.status_code == 400
    assert field_errors(response, "timezone")
    assert not Event.objects.filter(slug="sprints").exists()


def test_missing_name_is_a_form_error(people, alice):
    response = alice.post(NEW, event_post(name=""))
    assert response.status_code == 400
    assert field_errors(response, "name")


def test_overlong_contact_is_a_form_error_not_a_crash(people, alice):
    response = alice.post(NEW, event_post(venue_security="x" * 201))
    assert response.status_code == 400
    assert field_errors(response, "venue_security")


def test_failed_saves_write_no_audit_event(people, alice):
    before = AuditEvent.objects.count()
    alice.post(NEW, event_post(slug="pyconf"))
    alice.post(NEW, event_post(slug="staff"))
    alice.post(NEW, event_post(starts_on="soon"))
    alice.post("/org-a/staff/events/pyconf/", edit_post(people.event_a, slug="report"))
    assert AuditEvent.objects.count() == before


# --- mass assignment -------------------------------------------------------------


def test_create_ignores_fields_outside_the_form(people, alice):
    response = alice.post(
        NEW,
        event_post(organisation=str(people.org_b.pk), is_standing="on", id="999999", pk="999999"),
    )
    assert response.status_code == 302
    event = Event.objects.get(slug="sprints")
    assert event.organisation == people.org_a
    assert not event.is_standing
    assert event.pk != 999999
    assert set(Event.objects.filter(organisation=people.org_b).values_list("slug", flat=True)) == {
        "general",
        "meetup",
    }


def test_edit_ignores_fields_outside_the_form(people, alice):
    event_b_before = Event.objects.filter(organisation=people.org_b).values()
    event_b_before = sorted(event_b_before, key=lambda e: e["id"])
    response = alice.post(
        "/org-a/staff/events/pyconf/",
        edit_post(
            people.event_a,
            name="Renamed",
            organisation=str(people.org_b.pk),
            is_standing="on",
            id=str(people.event_b.pk),
        ),
    )
    assert response.status_code == 302
    people.event_a.refresh_from_db()
    assert people.event_a.name == "Renamed"
    assert people.event_a.organisation == people.org_a
    assert not people.event_a.is_standing
    after = sorted(Event.objects.filter(organisation=people.org_b).values(), key=lambda e: e["id"])
    assert after == event_b_before
    assert not AuditEvent.objects.filter(organisation=people.org_b, type=AuditType.EVENT_UPDATED)


# --- who may not -------------------------------------------------------------------

EVENT_PAGES = [EVENTS, NEW, "/org-a/staff/events/pyconf/", "/org-a/staff/events/general/"]


@pytest.mark.parametrize("path", EVENT_PAGES)
def test_responder_gets_403_on_event_pages(people, path):
    bob = browser(people.bob)
    assert bob.get(path).status_code == 403


@pytest.mark.parametrize("path", [NEW, "/org-a/staff/events/pyconf/"])
def test_responder_cannot_post_events(people, path):
    bob = browser(people.bob)
    before = AuditEvent.objects.count()
    response = bob.post(path, event_post(slug="pyconf", emergency_number="000", name="Hijacked"))
    assert response.status_code == 403
    people.event_a.refresh_from_db()
    assert people.event_a.emergency_number == "112"
    assert people.event_a.name == "PyConf A"
    assert not Event.objects.filter(name="Hijacked").exists()
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("path", EVENT_PAGES)
def test_other_organisations_chair_gets_404(people, path):
    charlie = browser(people.charlie)
    assert charlie.get(path).status_code == 404


@pytest.mark.parametrize("path", [NEW, "/org-a/staff/events/pyconf/"])
def test_other_organisations_chair_cannot_post(people, path):
    charlie = browser(people.charlie)
    before = AuditEvent.objects.count()
    response = charlie.post(
        path, event_post(slug="pyconf", emergency_number="000", name="Hijacked")
    )
    assert response.status_code == 404
    people.event_a.refresh_from_db()
    assert people.event_a.emergency_number == "112"
    assert not Event.objects.filter(name="Hijacked").exists()
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("path", EVENT_PAGES)
def test_anonymous_is_sent_to_login(people, path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")


def test_anonymous_post_changes_nothing(people):
    response = Client().post(
        "/org-a/staff/events/pyconf/", edit_post(people.event_a, name="Hijacked")
    )
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    people.event_a.refresh_from_db()
    assert people.event_a.name == "PyConf A"


def test_another_organisations_event_through_my_organisation_is_404(people, alice):
    path = "/org-a/staff/events/meetup/"  # org B's event
    assert alice.get(path).status_code == 404
    response = alice.post(path, event_post(slug="meetup", name="Hijacked", emergency_number="000"))
    assert response.status_code == 404
    people.event_b.refresh_from_db()
    assert people.event_b.name == "Meetup B"
    assert people.event_b.emergency_number == ""
    assert not Event.objects.filter(name="Hijacked").exists()


def test_chair_cannot_reach_another_organisations_events_by_its_url(people, alice):
    assert alice.get("/org-b/staff/events/").status_code == 404
    assert alice.get("/org-b/staff/events/meetup/").status_code == 404
    response = alice.post("/org-b/staff/events/meetup/", event_post(slug="meetup", name="Hijacked"))
    assert response.status_code == 404
    people.event_b.refresh_from_db()
    assert people.event_b.name == "Meetup B"


def test_unknown_event_is_404(people, alice):
    assert alice.get("/org-a/staff/events/nope/").status_code == 404
    assert alice.post("/org-a/staff/events/nope/", event_post(slug="nope")).status_code == 404
    assert not Event.objects.filter(slug="nope").exists()


def test_a_team_address_of_another_organisation_is_refused(people, alice):
    """Mail goes to the organisation whose address it is: org B must not be
    able to take over (or hide) org A's reports by naming org A's address."""
    people.event_a.team_email = "conduct@a.example"
    people.event_a.save()
    charlie = browser(people.charlie)
    response = charlie.post(
        "/org-b/staff/events/meetup/", edit_post(people.event_b, team_email="Conduct@A.example")
    )
    assert response.status_code == 400
    assert "Another organisation on this server uses this address." in response.content.decode()
    people.event_b.refresh_from_db()
    assert people.event_b.team_email == ""
    response = charlie.post("/org-b/staff/events/new/", event_post(team_email="conduct@a.example"))
    assert response.status_code == 400
    assert not Event.objects.filter(organisation=people.org_b, name="Sprint day").exists()
    # Within one organisation, events may share the team's address.
    response = alice.post(NEW, event_post(team_email="conduct@a.example"))
    assert response.status_code == 302
    assert (
        Event.objects.filter(organisation=people.org_a, team_email="conduct@a.example").count() == 2
    )


# --- the standing event ----------------------------------------------------------


def standing(people) -> Event:
    return Event.objects.get(organisation=people.org_a, is_standing=True)


@pytest.mark.parametrize(
    "change, field, message",
    [
        (
            {"slug": "online"},
            "slug",
            "The standing event keeps its address (/org-a/general/report/): "
            "links to it must keep working.",
        ),
        (
            {"accepts_reports": None},
            "accepts_reports",
            "The standing event always takes reports: it is where reports go that "
            "belong to no event.",
        ),
    ],
    ids=["address", "reports-off"],
)
def test_the_standing_event_keeps_its_address_and_always_takes_reports(
    people, alice, change, field, message
):
    general = standing(people)
    name = general.name
    before = AuditEvent.objects.count()
    response = alice.post(
        "/org-a/staff/events/general/", edit_post(general, name="Online spaces", **change)
    )
    assert response.status_code == 400
    assert field_errors(response, field) == [message]
    assert message in response.content.decode()
    general.refresh_from_db()
    assert (general.name, general.slug, general.accepts_reports) == (name, "general", True)
    assert AuditEvent.objects.count() == before
    assert Client().get("/org-a/general/report/").status_code == 200


def test_the_standing_event_may_be_renamed_and_get_contacts(people, alice):
    general = standing(people)
    response = alice.post(
        "/org-a/staff/events/general/",
        edit_post(general, name="Online spaces", emergency_number="911", crisis_line="988"),
    )
    assert response.status_code == 302
    general.refresh_from_db()
    assert (general.name, general.slug, general.emergency_number) == (
        "Online spaces",
        "general",
        "911",
    )
    assert "988" in emergency_box(Client().get("/org-a/general/report/"))


def test_the_service_refuses_it_too(people):
    from django.core.exceptions import ValidationError

    from ombud.orgs.services import event_update

    general = standing(people)
    for change in ({"slug": "elsewhere"}, {"accepts_reports": False}):
        with pytest.raises(ValidationError):
            event_update(actor=people.alice, event=general, **change)
    general.refresh_from_db()
    assert (general.slug, general.accepts_reports) == ("general", True)


def test_the_form_says_so_before_anyone_tries(people, alice):
    page = alice.get("/org-a/staff/events/general/").content.decode()
    assert "The standing event keeps its address and always takes reports" in page
