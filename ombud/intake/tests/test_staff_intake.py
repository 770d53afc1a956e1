"""Taking a report in person (DESIGN §2 "Staff intake checklist", §8): bob, a
responder, writes down what a reporter tells him in a hallway, on his phone.

Who may reach the URLs at all is also in the access matrix (test_access.py);
here: what taking a report does, its drafts, and what it refuses."""

import html
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from conftest import PASSWORD, browser
from ombud.accounts.models import User
from ombud.accounts.services import user_create
from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.cases.models import Attachment, Case, Channel, Exclusion, Grant
from ombud.cases.schema import CHECKLIST_LABELS, checklist_rows
from ombud.cases.services.keys import case_content_decrypt
from ombud.intake.forms_staff import StaffReportForm, event_default
from ombud.intake.models import IntakeDraft
from ombud.intake.services import SELF_EXCLUDED, intake_draft_save, intake_submit
from ombud.intake.tests.test_confidentiality import leaks, stored_bytes
from ombud.lib import crypto
from ombud.lib.errors import ServiceError
from ombud.notify.models import OutboxMessage
from ombud.notify.sealing import outbox_open
from ombud.orgs.models import Event, Membership, Role
from ombud.portal.services import receipt_open

INTAKE = "/org-a/staff/intake/"
MARKER = "QZ-intake-marker-Wq7xKz"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def draft_url(draft) -> str:
    return f"{INTAKE}drafts/{draft.pk}/"


def text(response) -> str:
    """The page as a person reads it: no tags, entities decoded, spaces collapsed."""
    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return " ".join(html.unescape(body).split())


def take(client, url=INTAKE, **fields):
    data = {
        "event": "pyconf",
        "description": "Someone kept following me around the sponsor hall.",
        "consent_public": "no",
        "action": "submit",
        **fields,
    }
    return client.post(url, data)


def taken(response):
    """The case and receipt of a report taken: the receipt page, not a redirect."""
    assert response.status_code == 200, text(response)[:2000]
    assert "Save your receipt now" in text(response)
    return Case.objects.get(pk=response.context["case"].pk), response.context["receipt"]


def report_of(case, receipt) -> dict:
    """What was stored, opened the way the reporter's portal opens it."""
    opened = receipt_open(organisation=case.organisation, receipt=receipt)
    case_id, data_key = opened.case_id, opened.data_key
    assert case_id == case.pk
    return case_content_decrypt(case=case, data_key=data_key).report


def stored_state():
    return (
        Case.objects.count(),
        IntakeDraft.objects.count(),
        AuditEvent.objects.count(),
        OutboxMessage.objects.count(),
        Attachment.objects.count(),
        list(IntakeDraft.objects.values_list("pk", "box", "updated_at")),
    )


@pytest.fixture
def bob(people):
    return browser(people.bob)


# --- the full flow -----------------------------------------------------------------------


def test_bob_takes_a_report_with_the_checklist(people, bob):
    people.event_a.timezone = "Europe/Berlin"
    people.event_a.save()
    response = take(
        bob,
        intake_at="2025-01-10T14:30",
        description=f"{MARKER} in the hallway",
        location="Sponsor hall",
        reporter_name="Robin",
        reporter_badge="B-1234",
        reporter_contact="robin@example.org",
        consent_contact="on",
        safety_concerns="He knows where I sit.",
        desired_outcome="That he keeps away from me.",
    )
    case, receipt = taken(response)

    assert case.channel == Channel.IN_PERSON
    assert case.event == people.event_a and not case.urgent
    assert case.retaliation_concern, "the safety question feeds the flag, as on the public form"
    assert case.law_enforcement_requested_at is None
    report = report_of(case, receipt)
    assert report["description"] == f"{MARKER} in the hallway"
    assert report["desired_outcome"] == "That he keeps away from me."
    assert report["safety_concerns"] == "He knows where I sit."
    # The checklist: time of intake in the event's zone, who, and who took it.
    assert report["intake_at"] == "2025-01-10T14:30+01:00"
    assert report["reporter_name"] == "Robin" and report["reporter_badge"] == "B-1234"
    assert report["reporter_anonymous"] is False
    assert report["law_enforcement_requested"] is False
    assert report["taken_by"] == "Bob"
    assert not {"event", "attachments", "exclude", "ongoing", "action"} & set(report)

    # Who took it is in the audit log, without content.
    [event] = AuditEvent.objects.filter(type=AuditType.INTAKE_REPORT_TAKEN)
    assert (event.actor_id, event.case_id) == (people.bob.pk, case.pk)
    assert event.data == {
        "number": case.number,
        "urgent": False,
        "law_enforcement": False,
        "draft": False,
    }
    # Everyone on the team holds it; the team is told (no page: not ongoing).
    assert set(Grant.objects.filter(case=case).values_list("user__email", flat=True)) == {
        "alice@a.example",
        "bob@a.example",
        "dave@a.example",
    }
    assert not OutboxMessage.objects.filter(topic=OutboxMessage.Topic.PAGE).exists()


def test_the_receipt_page_is_for_the_reporter_and_shown_once(people, bob):
    response = take(bob)
    case, receipt = taken(response)
    page = text(response)
    groups = receipt.split("-")
    assert len(groups) == 8 and all(f"{g}-" in page or g in page for g in groups)
    assert "http://testserver/org-a/report/status/" in page
    assert "print this page" in page
    assert "only on this page" in page
    assert f'href="/org-a/staff/cases/{case.number}/"' in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    # Neither in the session nor anywhere the next page could find it.
    assert receipt not in str(dict(bob.session))
    follow_up = bob.get(f"/org-a/staff/cases/{case.number}/")
    assert follow_up.status_code == 200
    assert receipt not in follow_up.content.decode()
    # The receipt works in the reporter's portal.
    opened = bob.post("/org-a/report/status/", {"receipt": receipt.lower()})
    assert opened.status_code == 302


def test_the_form_is_prefilled_with_now_in_the_events_time_zone(people, bob):
    people.event_a.timezone = "Pacific/Auckland"
    people.event_a.save()
    # PyConf A runs today, so it is the default over the standing event.
    people.event_a.starts_on = timezone.localdate(timezone=ZoneInfo("Pacific/Auckland"))
    people.event_a.save()
    response = bob.get(INTAKE)
    form = response.context["form"]
    assert form.initial["event"] == "pyconf"
    shown = datetime.strptime(form.initial["intake_at"], "%Y-%m-%dT%H:%M").replace(
        tzinfo=ZoneInfo("Pacific/Auckland")
    )
    assert abs(shown - timezone.now()) < timedelta(minutes=2)
    body = response.content.decode()
    assert f'value="{form.initial["intake_at"]}"' in body
    assert 'enctype="multipart/form-data"' in body


def test_an_empty_time_of_intake_means_now(people, bob):
    case, receipt = taken(take(bob, intake_at=""))
    recorded = datetime.fromisoformat(report_of(case, receipt)["intake_at"])
    assert abs(recorded - timezone.now()) < timedelta(minutes=2)


def test_the_default_event_is_the_only_one_running_today_else_the_standing_one(people):
    today = date.today()
    standing = Event.objects.get(organisation=people.org_a, is_standing=True)
    people.event_a.starts_on, people.event_a.ends_on = today - timedelta(days=1), today
    people.event_a.save()
    events = list(Event.objects.filter(organisation=people.org_a))
    assert event_default(events) == people.event_a
    Event.objects.create(organisation=people.org_a, name="Sprints", slug="sprints", starts_on=today)
    assert event_default(list(Event.objects.filter(organisation=people.org_a))) == standing


def test_every_field_of_the_staff_form_is_on_the_page():
    """A field added to the public form shows up on the staff form too."""
    in_sections = {name for _, names in StaffReportForm.SECTIONS for name in names}
    assert set(StaffReportForm.base_fields) == in_sections | {
        "exclude",
        "attachments",
        "form_token",
    }


def test_the_navigation_offers_a_new_report_in_person(bob):
    html_ = bob.get("/org-a/staff/").content.decode()
    assert f'href="{INTAKE}">New report (in person)</a>' in html_


# --- the checklist -----------------------------------------------------------------------


def test_ongoing_pages_the_team_at_once(people, bob):
    case, _ = taken(take(bob, ongoing="on", exclude=[str(people.dave.pk)]))
    assert case.urgent and case.page_round == 1
    pages = OutboxMessage.objects.filter(topic=OutboxMessage.Topic.PAGE)
    assert {outbox_open(m)["to"] for m in pages} == {"alice@a.example", "bob@a.example"}
    event = AuditEvent.objects.get(type=AuditType.INTAKE_REPORT_TAKEN)
    assert event.data["urgent"] is True


def test_law_enforcement_request_is_recorded_with_its_time(people, bob):
    before = timezone.now()
    case, receipt = taken(take(bob, law_enforcement_requested="on"))
    assert before <= case.law_enforcement_requested_at <= timezone.now()
    assert report_of(case, receipt)["law_enforcement_requested"] is True
    flags = AuditEvent.objects.get(type=AuditType.CASE_FLAGS_CHANGED, case_id=case.pk)
    assert flags.actor_id == people.bob.pk
    assert flags.data["law_enforcement_requested"] is True
    assert AuditEvent.objects.get(type=AuditType.INTAKE_REPORT_TAKEN).data["law_enforcement"]
    page = text(bob.get(f"/org-a/staff/cases/{case.number}/"))
    assert "The reporter asked us to contact law enforcement (" in page


def test_the_form_says_nobody_else_contacts_the_police(bob):
    assert "Nobody else contacts the police" in text(bob.get(INTAKE))


def test_an_excluded_responder_never_gets_the_case(people, bob):
    case, _ = taken(take(bob, exclude=[str(people.dave.pk)], description=MARKER))
    assert not Grant.objects.filter(case=case, user=people.dave).exists()
    assert Exclusion.objects.get(case=case, user=people.dave).reason == "excluded"
    dave = browser(people.dave)
    response = dave.get(f"/org-a/staff/cases/{case.number}/")
    assert response.status_code == 404
    assert MARKER not in response.content.decode()
    assert dave.get("/org-a/staff/").context["total"] == 0


def test_the_responder_taking_the_report_cannot_be_excluded(people, bob):
    before = stored_state()
    response = take(bob, exclude=[str(people.bob.pk)], location="kept")
    assert response.status_code == 400
    assert SELF_EXCLUDED in text(response)
    assert 'value="kept"' in response.content.decode()
    assert stored_state() == before


def test_an_anonymous_report_has_no_contact(people, bob):
    case, receipt = taken(take(bob, reporter_anonymous="on", consent_contact=""))
    assert not case.reporter_contact_available
    report = report_of(case, receipt)
    assert report["reporter_anonymous"] is True
    assert report["reporter_name"] == report["reporter_contact"] == ""


def test_anonymous_with_a_name_is_refused(bob):
    before = stored_state()
    response = take(bob, reporter_anonymous="on", reporter_name="Robin")
    assert response.status_code == 400
    assert "An anonymous report has no name, badge or contact" in text(response)
    assert stored_state() == before


def test_attachments_are_stored_with_the_case(people, bob):
    photo = SimpleUploadedFile("hallway.png", PNG, content_type="image/png")
    case, _ = taken(take(bob, attachments=[photo]))
    [attachment] = Attachment.objects.filter(case=case)
    assert attachment.content_type == "image/png"
    assert AuditEvent.objects.get(type=AuditType.CASE_SUBMITTED).data["attachments"] == 1


def test_a_file_we_do_not_take_is_refused_with_its_name(bob):
    before = stored_state()
    program = SimpleUploadedFile("run.exe", b"MZ\x90\x00\x03" + b"\0" * 64)
    response = take(bob, attachments=[program], location="kept")
    assert response.status_code == 400
    page = text(response)
    assert "“run.exe” is not a type we accept" in page
    assert stored_state() == before


# --- drafts ------------------------------------------------------------------------------


def save_draft(client, url=INTAKE, **fields):
    response = take(client, url, action="draft", **fields)
    assert response.status_code == 302, text(response)[:2000]
    return IntakeDraft.objects.get(pk=response["Location"].rstrip("/").rsplit("/", 1)[1])


def test_a_draft_is_resumed_then_sent_and_gone(people, bob):
    draft = save_draft(
        bob,
        description=f"{MARKER} so far",
        location="Hall B",
        exclude=[str(people.dave.pk)],
        law_enforcement_requested="on",
    )
    assert (draft.author, draft.organisation, draft.event) == (
        people.bob,
        people.org_a,
        people.event_a,
    )
    saved = AuditEvent.objects.get(type=AuditType.INTAKE_DRAFT_SAVED)
    assert (saved.actor_id, saved.data) == (people.bob.pk, {"draft": str(draft.pk)})

    # The list on the intake page, and the draft opened again.
    listed = bob.get(INTAKE)
    assert "Your unfinished reports" in text(listed)
    assert draft_url(draft) in listed.content.decode()
    assert MARKER not in listed.content.decode(), "the list shows no content"
    resumed = bob.get(draft_url(draft))
    body = resumed.content.decode()
    assert resumed.status_code == 200
    assert f"{MARKER} so far" in body and 'value="Hall B"' in body
    assert re.search(rf'value="{people.dave.pk}"[^>]*checked', body)
    assert re.search(r'name="law_enforcement_requested"[^>]*checked', body)
    assert "Continuing your draft" in text(resumed)

    # Saved again in parts: the same draft, new content.
    assert save_draft(bob, draft_url(draft), description=f"{MARKER} more").pk == draft.pk
    assert f"{MARKER} more" in bob.get(draft_url(draft)).content.decode()

    case, receipt = taken(take(bob, draft_url(draft), description=f"{MARKER} done"))
    assert not IntakeDraft.objects.exists()
    assert report_of(case, receipt)["description"] == f"{MARKER} done"
    assert AuditEvent.objects.get(type=AuditType.INTAKE_REPORT_TAKEN).data["draft"] is True
    assert bob.get(draft_url(draft)).status_code == 404


def test_a_draft_needs_no_description_yet(people, bob):
    draft = save_draft(bob, description="", location="Hall B")
    assert draft.event == people.event_a


def test_the_same_draft_sent_from_two_tabs_makes_one_case(people, bob):
    draft = save_draft(bob)
    other_tab = browser(people.bob)
    taken(take(bob, draft_url(draft)))
    response = take(other_tab, draft_url(draft))
    assert response.status_code == 404  # the draft is gone: nothing to send
    assert Case.objects.count() == 1


def test_a_draft_gone_while_open_is_not_saved_again(people, bob):
    draft = save_draft(bob)
    form = StaffReportForm(
        {"event": "pyconf", "description": "x", "consent_public": "no"},
        organisation=people.org_a,
        actor=people.bob,
    )
    assert form.is_valid()
    IntakeDraft.objects.filter(pk=draft.pk).delete()
    with pytest.raises(ServiceError, match="sent or deleted"):
        intake_draft_save(
            actor=people.bob,
            organisation=people.org_a,
            event=people.event_a,
            fields=form.draft_fields(),
            draft=draft,
        )
    with pytest.raises(ServiceError, match="sent or deleted"):
        intake_submit(
            actor=people.bob,
            organisation=people.org_a,
            event=people.event_a,
            content=form.content(),
            draft=draft,
        )
    assert not IntakeDraft.objects.exists() and not Case.objects.exists()


def test_files_are_not_kept_in_drafts_and_the_page_says_so(bob):
    photo = SimpleUploadedFile("hallway.png", PNG, content_type="image/png")
    response = take(bob, action="draft", attachments=[photo])
    assert response.status_code == 302
    page = text(bob.get(response["Location"]))
    assert "The files you chose were not kept" in page
    assert "Drafts do not keep files" in page or "drafts do not keep files" in page
    assert not Attachment.objects.exists()


def test_a_draft_is_deleted_by_its_author(people, bob):
    draft = save_draft(bob)
    assert bob.get(f"{draft_url(draft)}delete/").status_code == 405
    response = bob.post(f"{draft_url(draft)}delete/")
    assert response.status_code == 302 and response["Location"] == INTAKE
    assert not IntakeDraft.objects.exists()
    deleted = AuditEvent.objects.get(type=AuditType.INTAKE_DRAFT_DELETED)
    assert (deleted.actor_id, deleted.data) == (people.bob.pk, {"draft": str(draft.pk)})


def test_an_old_draft_is_pointed_out(people, bob):
    draft = save_draft(bob)
    IntakeDraft.objects.filter(pk=draft.pk).update(updated_at=timezone.now() - timedelta(days=8))
    assert "over a week old: send it or delete it" in text(bob.get(INTAKE))


def test_a_draft_sealed_to_an_earlier_key_cannot_be_opened(people, bob):
    """After a password reset the author has a new key pair."""
    draft = save_draft(bob)
    public, _ = crypto.keypair_new()
    IntakeDraft.objects.filter(pk=draft.pk).update(box=crypto.data_key_seal(public, b"{}"))
    response = bob.get(draft_url(draft), follow=True)
    assert response.redirect_chain == [(INTAKE, 302)]
    assert "cannot be opened any more" in text(response)


@pytest.mark.django_db(transaction=True)
def test_a_draft_leaves_no_content_in_the_database(people):
    bob = browser(people.bob)
    save_draft(bob, description=f"{MARKER} said", location=f"{MARKER} hall")
    where, raw = stored_bytes()
    assert b"bob@a.example" in raw, f"nothing found in {where}: the search reads nothing"
    assert leaks(raw, {"marker": MARKER}) == [], f"found in {where}"


@pytest.mark.parametrize("who", ["dave", "alice", "charlie"])
def test_someone_elses_draft_looks_missing(people, bob, who):
    """Another responder, the chair, and another organisation's chair."""
    draft = save_draft(bob, description=MARKER)
    other = browser(getattr(people, who))
    for response in (
        other.get(draft_url(draft)),
        take(other, draft_url(draft), action="draft"),
        take(other, draft_url(draft)),
        other.post(f"{draft_url(draft)}delete/"),
    ):
        assert response.status_code == 404
        assert MARKER not in response.content.decode()
    assert IntakeDraft.objects.get().box == draft.box
    assert not Case.objects.exists()
    assert "Your unfinished reports" not in text(other.get(INTAKE))


def test_a_draft_is_not_reachable_through_another_organisation(people, bob):
    draft = save_draft(bob)
    Membership.objects.create(user=people.bob, organisation=people.org_b, role=Role.RESPONDER)
    assert bob.get(f"/org-b/staff/intake/drafts/{draft.pk}/").status_code == 404
    assert bob.post(f"/org-b/staff/intake/drafts/{draft.pk}/delete/").status_code == 404
    assert "Your unfinished reports" not in text(bob.get("/org-b/staff/intake/"))
    assert IntakeDraft.objects.filter(pk=draft.pk).exists()


# --- who may, and bad input ----------------------------------------------------------------


def test_other_organisations_chair_gets_404(people):
    charlie = browser(people.charlie)
    before = stored_state()
    assert charlie.get(INTAKE).status_code == 404
    assert take(charlie).status_code == 404
    assert stored_state() == before


@pytest.mark.parametrize("path", [INTAKE, f"{INTAKE}drafts/00000000-0000-0000-0000-000000000000/"])
def test_anonymous_is_sent_to_log_in(path):
    client = browser()
    for response in (client.get(path), client.post(path, {"description": "x"})):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_a_member_without_a_key_pair_is_told_why(people):
    keyless = User.objects.create(username="k@a.example", email="k@a.example")
    keyless.set_password(PASSWORD)
    keyless.save()
    Membership.objects.create(user=keyless, organisation=people.org_a, role=Role.RESPONDER)
    response = browser(keyless).get(INTAKE)
    assert response.status_code == 403
    assert "Taking reports needs your own key pair" in text(response)


def test_a_new_member_may_take_reports_too(people):
    frank = user_create(email="frank@a.example", password=PASSWORD, display_name="Frank")
    Membership.objects.create(user=frank, organisation=people.org_a, role=Role.RESPONDER)
    case, _ = taken(take(browser(frank)))
    assert Grant.objects.filter(case=case, user=frank).exists()


BAD_INPUT = [
    ({"event": "no-such-event"}, "Choose one of the events listed"),
    ({"event": "meetup"}, "Choose one of the events listed"),  # org B's event
    ({"event": ""}, "Choose the event the report is about."),
    ({"intake_at": "yesterday at tea time"}, "Enter the time of intake as a date and time"),
    ({"intake_at": "2999-01-01T10:00"}, "The time of intake cannot be in the future."),
    ({"description": "x" * 50_001}, "at most 50000 characters"),
    ({"exclude": ["999999"]}, "Select a valid choice"),
]


@pytest.mark.parametrize(
    ("fields", "message", "action"),
    [(f, m, "submit") for f, m in BAD_INPUT]
    + [({"description": "   "}, "Please describe what happened", "submit")]
    + [(f, m, "draft") for f, m in BAD_INPUT],
)
def test_bad_input_is_refused_with_a_message_and_stores_nothing(bob, fields, message, action):
    before = stored_state()
    response = take(bob, action=action, location="kept", **fields)
    assert response.status_code == 400
    assert message in text(response)
    assert 'value="kept"' in response.content.decode()
    assert stored_state() == before


def test_an_event_that_no_longer_takes_reports_is_refused(people, bob):
    people.event_a.accepts_reports = False
    people.event_a.save()
    before = stored_state()
    response = take(bob)
    assert response.status_code == 400
    assert "Choose one of the events listed" in text(response)
    assert stored_state() == before


def test_a_body_over_the_limit_is_refused(bob):
    before = stored_state()
    response = take(bob, description="x" * (1024 * 1024 + 1))
    assert response.status_code == 400
    assert stored_state() == before


def test_files_over_the_request_limit_are_refused_and_what_was_written_is_kept(bob, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # as a 64 MB body would, cheaper
    before = stored_state()
    film = SimpleUploadedFile("film.pdf", b"%PDF-" + b"\0" * (3 * 1024 * 1024))
    response = take(bob, attachments=[film], description=f"{MARKER} as told", location="kept")
    assert response.status_code == 400
    page = text(response)
    assert "The files together are larger than 25 MB." in page
    assert f"{MARKER} as told" in page and 'value="kept"' in response.content.decode()
    assert stored_state() == before


def test_get_changes_nothing(people, bob):
    draft = save_draft(bob, description=MARKER)
    before = stored_state()
    for path in (INTAKE, draft_url(draft)):
        assert bob.get(path).status_code == 200
        assert bob.head(path).status_code == 200
    assert stored_state() == before


def test_a_draft_needs_the_key_of_this_browser(people, bob):
    draft = save_draft(bob)
    bob.cookies.pop(settings.SESSION_KEY_COOKIE)
    response = bob.get(draft_url(draft))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


# --- on the case page ------------------------------------------------------------------


def test_checklist_rows_label_the_checklist():
    content = {
        "intake_at": "2025-01-10T14:30+01:00",
        "taken_by": "Bob",
        "reporter_anonymous": True,
        "reporter_badge": "",
        "law_enforcement_requested": False,
    }
    assert checklist_rows(content) == [
        ("Time of intake", "2025-01-10T14:30+01:00"),
        ("Report taken in person by", "Bob"),
        ("The reporter chose to stay anonymous", "Yes"),
    ]
    assert checklist_rows({"description": "web form"}) == []


def test_the_case_page_shows_the_checklist(people, bob):
    case, _ = taken(take(bob, reporter_badge="B-1234", law_enforcement_requested="on"))
    page = text(bob.get(f"/org-a/staff/cases/{case.number}/"))
    for label in CHECKLIST_LABELS.values():
        if label != CHECKLIST_LABELS["reporter_anonymous"]:
            assert label in page
    assert "Report taken in person by Bob" in page
