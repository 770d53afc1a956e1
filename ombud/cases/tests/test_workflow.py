"""The response workflow as a responder meets it on the case page: every step
is a POST from the page, answered with the page again (400 and a message
saying what was wrong) or a redirect back to it; every step is audited.

Who may reach each URL at all is the access matrix's job (test_access.py);
here the actors hold grants and we look at what the workflow does."""

import html
import re

import pytest
from django.core import mail
from django.utils import dateformat, timezone

from conftest import PASSWORD, browser
from ombud.accounts.services import user_create
from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.cases.models import (
    Appeal,
    Case,
    Decision,
    DecisionResponse,
    Grant,
    Message,
    Note,
    Status,
)
from ombud.cases.services.base import MESSAGE_MAX
from ombud.cases.views import ACTIONS
from ombud.notify.models import OutboxMessage
from ombud.notify.sealing import outbox_open
from ombud.notify.tasks import outbox_deliver
from ombud.orgs.models import Membership, ResponseType, Role

SECRET = "QJX-workflow-secret-71c2"  # written on the case; must never sit in the database
TOO_LONG = "x" * (MESSAGE_MAX + 1)

# --- helpers ---------------------------------------------------------------------------


def case_url(case, action: str = "") -> str:
    return f"/org-a/staff/cases/{case.number}/" + (f"{action}/" if action else "")


def _text(fragment: str) -> str:
    fragment = re.sub(r"</?a\b[^>]*>", "", fragment)  # links are inline: no space
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def page_text(response) -> str:
    """The page as a person reads it: no tags, entities decoded, spaces collapsed."""
    return _text(response.content.decode())


def told(response) -> str:
    """What the page tells the person at the top: the flash messages."""
    body = response.content.decode()
    found = re.search(r'<ul class="messages"[^>]*>(.*?)</ul>', body, re.S)
    return _text(found.group(1)) if found else ""


def timeline(response) -> list[str]:
    """The entries of the case timeline, in the order shown."""
    body = response.content.decode()
    found = re.search(r'<ol class="timeline">(.*?)</ol>', body, re.S)
    assert found, "no timeline on the page"
    return [_text(item) for item in re.findall(r"<li[^>]*>(.*?)</li>", found.group(1), re.S)]


def refused(response, message: str) -> None:
    """Refused with a message the person reads at the top of the case page."""
    assert response.status_code == 400, response.status_code
    assert "Case #" in page_text(response), "not the case page"
    assert message in told(response), f"{message!r} not in {told(response)!r}"


def audits(case, type_) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(case_id=case.pk, type=type_).order_by("seq"))


def stored_state() -> tuple:
    """Everything a workflow step could write (reads add CASE_CONTENT_READ only)."""
    return (
        sorted(map(str, Case.objects.values_list())),
        sorted(map(str, Grant.objects.values_list("case_id", "user_id"))),
        Note.objects.count(),
        Message.objects.count(),
        Decision.objects.count(),
        sorted(map(str, DecisionResponse.objects.values_list())),
        Appeal.objects.count(),
        OutboxMessage.objects.count(),
        AuditEvent.objects.exclude(type=AuditType.CASE_CONTENT_READ).count(),
    )


def rt(people, name: str, organisation=None) -> ResponseType:
    return ResponseType.objects.get(organisation=organisation or people.org_a, name=name)


def decision_post(violation="yes", rationale="Because.", responses=()) -> dict:
    """The decision form: `responses` are (response type, owner or None)."""
    data = {"violation": violation, "rationale": rationale}
    for response_type, owner in responses:
        data[f"response_{response_type.pk}"] = "on"
        data[f"owner_{response_type.pk}"] = str(owner.pk) if owner else ""
    return data


@pytest.fixture
def case(people, submit_report):
    """Case 1 of org A, dave excluded by the reporter: alice and bob hold it."""
    case, _ = submit_report(
        people.event_a, description=f"{SECRET} in the report", exclude=[str(people.dave.pk)]
    )
    assert set(case.grants.values_list("user__email", flat=True)) == {
        "alice@a.example",
        "bob@a.example",
    }
    return case


@pytest.fixture
def bob(people):
    return browser(people.bob)


@pytest.fixture
def alice(people):
    return browser(people.alice)


def triage(client, case) -> None:
    response = client.post(case_url(case, "meeting"), {"attendees": "Alice, Bob"})
    assert response.status_code == 302, told(response)
    case.refresh_from_db()
    assert case.status == Status.TRIAGED


# --- acknowledgement ---------------------------------------------------------------------


def test_first_acknowledgement_wins_and_everyone_sees_who_and_when(people, submit_report):
    case, _ = submit_report(people.event_a, ongoing="on")
    bob, alice, dave = browser(people.bob), browser(people.alice), browser(people.dave)
    page = alice.get(case_url(case))
    assert "nobody has acknowledged it yet" in page_text(page)
    assert "I'm on it" in page_text(page)

    response = bob.post(case_url(case, "acknowledge"))

    assert response.status_code == 302
    assert response["Location"] == case_url(case)
    case.refresh_from_db()
    assert case.acknowledged_by == people.bob
    assert case.status == Status.ACKNOWLEDGED
    assert [(e.actor_id, e.data) for e in audits(case, AuditType.CASE_ACKNOWLEDGED)] == [
        (people.bob.pk, {})
    ]
    when = dateformat.format(timezone.localtime(case.acknowledged_at), "j M, H:i")
    for client in (alice, dave, bob):
        text = page_text(client.get(case_url(case)))
        assert f"Bob is on it since {when}" in text
        assert "nobody has acknowledged it yet" not in text
    assert "Bob is on it" in page_text(alice.get("/org-a/staff/"))

    # A second responder pressing the (stale) button learns who was first; nothing changes.
    before = stored_state()
    second = alice.post(case_url(case, "acknowledge"))
    refused(second, "Bob acknowledged this case already, at ")
    assert stored_state() == before
    case.refresh_from_db()
    assert case.acknowledged_by == people.bob


# --- status ----------------------------------------------------------------------------


def test_status_moves_only_along_the_procedure_and_each_move_is_audited(people, case, bob):
    page = bob.get(case_url(case))
    assert page.context["forms"]["status"].fields["status"].choices == [
        ("triaged", "Triaged"),
        ("closed", "Closed"),
    ]

    # Not from the status form: follow-up comes from a follow-up message, decided
    # from a decision; an unknown status is no status.
    for status in ("followed_up", "decided", "appealed", "acknowledged", "bogus", ""):
        before = stored_state()
        refused(bob.post(case_url(case, "status"), {"status": status}), "Status:")
        assert stored_state() == before, status
        case.refresh_from_db()
        assert case.status == Status.NEW

    for status in ("triaged", "closed"):
        response = bob.post(case_url(case, "status"), {"status": status})
        assert response.status_code == 302, told(response)
        assert "Status changed." in told(bob.get(response["Location"]))

    # closed -> triaged is not a step of the procedure
    refused(bob.post(case_url(case, "status"), {"status": "triaged"}), "Select a valid choice")
    case.refresh_from_db()
    assert case.status == Status.CLOSED

    # reopen
    assert bob.post(case_url(case, "status"), {"status": "reopened"}).status_code == 302
    case.refresh_from_db()
    assert case.status == Status.REOPENED
    assert "Status Reopened" in page_text(bob.get(case_url(case)))
    assert [(e.actor_id, e.data) for e in audits(case, AuditType.CASE_STATUS_CHANGED)] == [
        (people.bob.pk, {"from": "new", "to": "triaged"}),
        (people.bob.pk, {"from": "triaged", "to": "closed"}),
        (people.bob.pk, {"from": "closed", "to": "reopened"}),
    ]


# --- assignment ---------------------------------------------------------------------------


def test_assign_only_to_responders_with_access_and_unassign(people, case, bob, alice):
    for nobody_here in (people.dave, people.charlie):  # excluded; another organisation
        before = stored_state()
        refused(
            bob.post(case_url(case, "assign"), {"assignee": str(nobody_here.pk)}),
            "Select a valid choice",
        )
        assert stored_state() == before
    case.refresh_from_db()
    assert case.assignee is None

    assert bob.post(case_url(case, "assign"), {"assignee": str(people.bob.pk)}).status_code == 302
    case.refresh_from_db()
    assert case.assignee == people.bob
    assert "Assigned to Bob" in page_text(alice.get(case_url(case)))
    mine = bob.get("/org-a/staff/")
    assert "Assigned to you" in page_text(mine)
    assert list(mine.context["mine"]) == [case]
    assert "Assigned to you" not in page_text(alice.get("/org-a/staff/"))

    assert bob.post(case_url(case, "assign"), {"assignee": ""}).status_code == 302
    case.refresh_from_db()
    assert case.assignee is None
    assert "Assigned to you" not in page_text(bob.get("/org-a/staff/"))
    assert [e.data for e in audits(case, AuditType.CASE_ASSIGNED)] == [
        {"assignee": people.bob.pk},
        {"assignee": None},
    ]


# --- marking a case ongoing --------------------------------------------------------------


def test_mark_ongoing_later_makes_the_case_urgent_and_pages(people, case, bob, alice):
    before = set(OutboxMessage.objects.values_list("pk", flat=True))

    response = bob.post(case_url(case, "urgent"))

    assert response.status_code == 302, told(response)
    case.refresh_from_db()
    assert case.urgent
    assert case.acknowledged_at is None
    assert [e.actor_id for e in audits(case, AuditType.CASE_MARKED_URGENT)] == [people.bob.pk]
    text = page_text(alice.get(case_url(case)))
    assert "Ongoing incident: nobody has acknowledged it yet." in text
    assert "Mark as ongoing and page the team" not in text
    # Paging is the clocks' business; here only: the team holding the case is paged.
    pages = OutboxMessage.objects.exclude(pk__in=before).filter(topic=OutboxMessage.Topic.PAGE)
    assert {outbox_open(m)["to"] for m in pages} == {"alice@a.example", "bob@a.example"}
    assert case.page_round == 1

    # Marking it again (a second open tab) is refused and pages nobody twice.
    state = stored_state()
    refused(bob.post(case_url(case, "urgent")), "already marked as ongoing")
    assert stored_state() == state


# --- flags ---------------------------------------------------------------------------------

RETALIATION = "Retaliation or safety concern: anything that reaches the reported person"
POLICE = "The reporter asked us to contact law enforcement ("


def test_flags_show_on_the_case_page_and_law_enforcement_keeps_its_time(people, case, bob):
    assert RETALIATION not in page_text(bob.get(case_url(case)))

    both = {"retaliation_concern": "on", "law_enforcement_requested": "on"}
    assert bob.post(case_url(case, "flags"), both).status_code == 302
    case.refresh_from_db()
    requested_at = case.law_enforcement_requested_at
    assert case.retaliation_concern and requested_at is not None
    text = page_text(bob.get(case_url(case)))
    assert RETALIATION in text
    assert POLICE + dateformat.format(timezone.localtime(requested_at), "j M Y, H:i") in text

    # Saving the flags again keeps the time the request was first recorded.
    assert bob.post(case_url(case, "flags"), both).status_code == 302
    case.refresh_from_db()
    assert case.law_enforcement_requested_at == requested_at

    assert bob.post(case_url(case, "flags"), {}).status_code == 302
    case.refresh_from_db()
    assert not case.retaliation_concern and case.law_enforcement_requested_at is None
    text = page_text(bob.get(case_url(case)))
    assert RETALIATION not in text and POLICE not in text
    assert [e.data for e in audits(case, AuditType.CASE_FLAGS_CHANGED)] == [
        {"retaliation_concern": True, "law_enforcement_requested": True},
        {"retaliation_concern": True, "law_enforcement_requested": True},
        {"retaliation_concern": False, "law_enforcement_requested": False},
    ]


def test_a_safety_concern_in_the_report_raises_the_flag_from_the_start(people, submit_report):
    case, _ = submit_report(people.event_a, safety_concerns="He knows where I sit.")
    assert RETALIATION in page_text(browser(people.bob).get(case_url(case)))


# --- the meeting ------------------------------------------------------------------------------


def test_meeting_record_is_encrypted_shown_and_triages_the_case(people, case, bob, alice):
    sections = {
        "attendees": f"Alice, Bob {SECRET}-attendees",
        "documents_reviewed": f"The report {SECRET}-documents",
        "past_incidents": "#3, #7",
        "responses_discussed": f"A warning {SECRET}-responses",
        "talks_to_reported_person": "Bob",
        "followups": "Alice writes to the reporter by Friday",
    }

    response = bob.post(case_url(case, "meeting"), sections)

    assert response.status_code == 302, told(response)
    case.refresh_from_db()
    assert case.status == Status.TRIAGED
    (note,) = Note.objects.filter(case=case, kind=Note.Kind.MEETING)
    assert note.author == people.bob
    assert SECRET.encode() not in bytes(note.content)
    assert b"Alice" not in bytes(note.content)
    text = page_text(alice.get(case_url(case)))
    for label, value in [
        ("Who attended", sections["attendees"]),
        ("Documentation reviewed", sections["documents_reviewed"]),
        ("Past incidents consulted (write #12 to link case 12)", "#3, #7"),
        ("Possible responses discussed", sections["responses_discussed"]),
        ("Who will talk to the reported person", "Bob"),
        ("Follow-ups and who owns them", sections["followups"]),
    ]:
        assert f"{label} {value}" in text
    assert [e.actor_id for e in audits(case, AuditType.MEETING_RECORDED)] == [people.bob.pk]
    assert "team meeting due" not in text.lower()

    before = stored_state()
    refused(
        bob.post(case_url(case, "meeting"), {"attendees": "  "}), "The meeting record is empty."
    )
    assert stored_state() == before


# --- decisions ---------------------------------------------------------------------------------


def test_decision_with_responses_owners_and_encrypted_rationale(people, case, bob, alice):
    triage(bob, case)
    warning, no_contact = (
        rt(people, "A warning"),
        rt(people, "Requiring no further contact with the reporter"),
    )
    data = decision_post(
        rationale=f"Several witnesses agree. {SECRET}-rationale",
        responses=[(warning, people.bob), (no_contact, people.alice)],
    )

    response = bob.post(case_url(case, "decision"), data)

    assert response.status_code == 302, told(response)
    case.refresh_from_db()
    assert case.status == Status.DECIDED
    (decision,) = case.decisions.all()
    assert decision.is_final and decision.decided_by == people.bob
    assert decision.violation == Decision.Violation.YES
    assert SECRET.encode() not in bytes(decision.rationale)
    assert sorted((r.response_type.name, r.owner.email) for r in decision.responses.all()) == [
        ("A warning", "bob@a.example"),
        ("Requiring no further contact with the reporter", "alice@a.example"),
    ]
    text = page_text(alice.get(case_url(case)))
    assert "Yes, a violation — decided by Bob" in text
    assert f"Several witnesses agree. {SECRET}-rationale" in text
    assert "A warning (Bob)" in text
    assert "Requiring no further contact with the reporter (Alice)" in text
    assert "waiting for a second responder" not in text
    (event,) = audits(case, AuditType.DECISION_RECORDED)
    assert (event.actor_id, event.data["violation"], event.data["final"]) == (
        people.bob.pk,
        "yes",
        True,
    )
    assert sorted(event.data["responses"]) == sorted([warning.pk, no_contact.pk])


def test_responses_outside_the_catalog_and_owners_without_access_are_refused(people, case, bob):
    triage(bob, case)
    warning = rt(people, "A warning")
    retired = rt(people, "Barring from alcohol at the event")
    retired.retired = True
    retired.save()
    other_org = rt(people, "A warning", organisation=people.org_b)
    offered = bob.get(case_url(case)).context["forms"]["decision"].fields
    assert f"response_{warning.pk}" in offered
    assert f"response_{retired.pk}" not in offered

    attempts = [
        # a page loaded before the chair retired the response
        (
            decision_post(responses=[(warning, None), (retired, None)]),
            "no longer in the response catalog",
        ),
        (decision_post(responses=[(other_org, None)]), "no longer in the response catalog"),
        ({**decision_post(), "response_999999999": "on"}, "no longer in the response catalog"),
        # dave is excluded from the case: he cannot own a response on it
        (decision_post(responses=[(warning, people.dave)]), "Select a valid choice"),
        (decision_post(responses=[(warning, people.charlie)]), "Select a valid choice"),
    ]
    for data, message in attempts:
        before = stored_state()
        refused(bob.post(case_url(case, "decision"), data), message)
        assert stored_state() == before, data


def test_severe_responses_need_a_second_responder(people, case, bob, alice):
    people.org_a.two_person_severity = 4
    people.org_a.save()
    triage(bob, case)
    ban = rt(people, "Banning from future events")
    assert ban.severity == 5

    response = bob.post(case_url(case, "decision"), decision_post(responses=[(ban, people.bob)]))

    assert response.status_code == 302, told(response)
    (decision,) = case.decisions.all()
    assert not decision.is_final
    case.refresh_from_db()
    assert case.status == Status.TRIAGED
    bob_page = bob.get(case_url(case))
    assert "waiting for a second responder to agree" in page_text(bob_page)
    assert "I agree with this decision" not in page_text(bob_page)

    # The proposer cannot agree with himself, even by posting the form.
    before = stored_state()
    refused(
        bob.post(case_url(case, "approve"), {"decision": str(decision.pk)}),
        "A second responder must agree; you proposed this decision.",
    )
    assert stored_state() == before

    alice_page = alice.get(case_url(case))
    assert "I agree with this decision" in page_text(alice_page)
    assert alice.post(case_url(case, "approve"), {"decision": str(decision.pk)}).status_code == 302
    decision.refresh_from_db()
    case.refresh_from_db()
    assert decision.is_final and decision.approved_by == people.alice
    assert case.status == Status.DECIDED
    text = page_text(bob.get(case_url(case)))
    assert "decided by Bob, agreed by Alice" in text
    assert "waiting for a second responder" not in text
    assert [e.actor_id for e in audits(case, AuditType.DECISION_APPROVED)] == [people.alice.pk]
    # Once final there is nothing left to agree to.
    refused(
        alice.post(case_url(case, "approve"), {"decision": str(decision.pk)}),
        "Select a valid choice",
    )


def test_mild_responses_need_no_second_responder(people, case, bob):
    people.org_a.two_person_severity = 4
    people.org_a.save()
    triage(bob, case)
    data = decision_post(responses=[(rt(people, "A warning"), None)])
    assert bob.post(case_url(case, "decision"), data).status_code == 302
    assert case.decisions.get().is_final


def test_each_response_has_its_own_done_checkbox(people, case, bob, alice):
    triage(bob, case)
    warning, no_contact = (
        rt(people, "A warning"),
        rt(people, "Requiring no further contact with the reporter"),
    )
    data = decision_post(responses=[(warning, people.bob), (no_contact, None)])
    assert bob.post(case_url(case, "decision"), data).status_code == 302
    first = DecisionResponse.objects.get(response_type=warning)
    second = DecisionResponse.objects.get(response_type=no_contact)

    done = {"response": str(first.pk), "done": "on"}
    assert bob.post(case_url(case, "response-done"), done).status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.done_at is not None and second.done_at is None
    text = page_text(alice.get(case_url(case)))
    assert "A warning (Bob) done mark not done" in text
    assert "Requiring no further contact with the reporter mark done" in text

    assert (
        alice.post(case_url(case, "response-done"), {"response": str(first.pk)}).status_code == 302
    )
    first.refresh_from_db()
    assert first.done_at is None
    assert [e.data for e in audits(case, AuditType.RESPONSE_DONE_CHANGED)] == [
        {"response": first.pk, "done": True},
        {"response": first.pk, "done": False},
    ]


# --- follow-up -------------------------------------------------------------------------------


def test_follow_up_message_moves_a_decided_case_to_followed_up(people, case, bob):
    triage(bob, case)
    assert bob.post(case_url(case, "decision"), decision_post()).status_code == 302
    # An ordinary message leaves the status alone.
    assert bob.post(case_url(case, "reply"), {"body": "A question."}).status_code == 302
    case.refresh_from_db()
    assert case.status == Status.DECIDED and case.followed_up_at is None

    follow_up = {"body": "We discussed it and acted.", "is_followup": "on"}
    assert bob.post(case_url(case, "reply"), follow_up).status_code == 302

    case.refresh_from_db()
    assert case.status == Status.FOLLOWED_UP
    assert case.followed_up_at is not None
    text = page_text(bob.get(case_url(case)))
    assert "Status Reporter followed up" in text
    assert "Bob to the reporter · follow-up" in text


# --- appeals ---------------------------------------------------------------------------------


def test_appeal_goes_to_responders_who_took_no_part(people, case, bob, alice):
    # No decision yet: nothing to appeal.
    before = stored_state()
    refused(
        bob.post(case_url(case, "appeal"), {"statement": "Unfair"}),
        "There is no decision to appeal yet.",
    )
    assert stored_state() == before

    triage(bob, case)
    assert bob.post(case_url(case, "decision"), decision_post()).status_code == 302
    decision = case.decisions.get()
    queued_before = set(OutboxMessage.objects.values_list("pk", flat=True))

    statement = f"I was not even there. {SECRET}-appeal"
    response = bob.post(case_url(case, "appeal"), {"statement": statement})

    assert response.status_code == 302, told(response)
    case.refresh_from_db()
    assert case.status == Status.APPEALED
    (appeal,) = case.appeals.all()
    assert appeal.decision == decision and appeal.recorded_by == people.bob
    assert SECRET.encode() not in bytes(appeal.statement)
    assert [e.actor_id for e in audits(case, AuditType.APPEAL_RECORDED)] == [people.bob.pk]
    text = page_text(alice.get(case_url(case)))
    assert statement in text
    assert "under review by responders who did not take part in the decision" in text

    # Only alice (who took no part in bob's decision) is asked; dave holds no grant.
    new = OutboxMessage.objects.exclude(pk__in=queued_before)
    mail.outbox.clear()
    for message in new:
        assert outbox_deliver.call(message_id=message.pk) == "sent"
    assert [m.to for m in mail.outbox] == [["alice@a.example"]]
    assert f"Appeal to review: case {case.number}" in mail.outbox[0].subject
    assert SECRET not in mail.outbox[0].body and "not even there" not in mail.outbox[0].body

    # bob made the decision: he cannot decide the appeal.
    before = stored_state()
    refused(
        bob.post(case_url(case, "decision"), decision_post(violation="no")),
        "You took part in the appealed decision",
    )
    assert stored_state() == before

    assert alice.post(case_url(case, "decision"), decision_post(violation="no")).status_code == 302
    appeal.refresh_from_db()
    case.refresh_from_db()
    assert appeal.outcome is not None
    assert appeal.outcome.is_appeal_outcome and appeal.outcome.decided_by == people.alice
    assert case.status == Status.DECIDED
    text = page_text(bob.get(case_url(case)))
    assert "No violation — appeal outcome, decided by Alice" in text
    assert "under review by responders" not in text


def test_an_appeal_nobody_may_review_says_so_and_leads_to_a_reviewer(people, case, bob, alice):
    """bob decided and alice agreed: everyone who holds the case took part, so
    nobody may review an appeal. The page says so (not "reviewers are asked")
    and offers what works: give access to a member who took no part."""
    people.org_a.two_person_severity = 4
    people.org_a.save()
    erin = user_create(email="erin@a.example", password=PASSWORD, display_name="Erin")
    Membership.objects.create(user=erin, organisation=people.org_a, role=Role.RESPONDER)
    triage(bob, case)
    ban = rt(people, "Banning from future events")
    bob.post(case_url(case, "decision"), decision_post(responses=[(ban, people.bob)]))
    decision = case.decisions.get()
    assert alice.post(case_url(case, "approve"), {"decision": str(decision.pk)}).status_code == 302
    queued_before = OutboxMessage.objects.count()

    response = bob.post(case_url(case, "appeal"), {"statement": "Unfair"}, follow=True)

    said = told(response)
    assert "are asked" not in said
    assert "Nobody can review this appeal yet: everyone who holds the case took part" in said
    text = page_text(response)
    assert "under review by responders who did not take part" not in text
    assert "Nobody can review this appeal yet" in text
    assert "Give Erin access to review it" in text
    notice = re.search(
        r"Nobody can review this appeal yet:</strong>.*?</div>", response.content.decode(), re.S
    )
    assert "Erin" in notice.group(0) and "Dave" not in notice.group(0)  # dave is kept out
    assert OutboxMessage.objects.count() == queued_before  # nobody to ask
    # The chair is shown the recovery procedure too, for when nobody who holds it can.
    assert "the chair can give access with the recovery kit" in page_text(alice.get(case_url(case)))
    assert "the chair can give access with the recovery kit" not in text

    # One click on the case page gives erin access; she reviews the appeal.
    granted = bob.post(
        f"/org-a/staff/cases/{case.number}/grant/", {"member": str(erin.pk), "scope": "case"}
    )
    assert granted.status_code == 302
    assert "Nobody can review this appeal yet" not in page_text(bob.get(case_url(case)))
    erin_client = browser(erin)
    assert "under review by responders who did not take part" in page_text(
        erin_client.get(case_url(case))
    )
    assert erin_client.post(case_url(case, "decision"), decision_post("no")).status_code == 302
    case.refresh_from_db()
    assert case.status == Status.DECIDED


# --- notes and the timeline -------------------------------------------------------------------


def test_notes_are_encrypted_and_the_timeline_interleaves_everything(people, case, bob, alice):
    assert bob.post(case_url(case, "note"), {"text": f"First note {SECRET}-1"}).status_code == 302
    assert bob.post(case_url(case, "reply"), {"body": "Thanks, we are on it."}).status_code == 302
    assert alice.post(case_url(case, "note"), {"text": "Second note"}).status_code == 302
    for note in Note.objects.filter(case=case):
        assert SECRET.encode() not in bytes(note.content)
        assert b"note" not in bytes(note.content)

    bob.get(case_url(case))
    entries = timeline(alice.get(case_url(case)))

    def at(fragment: str) -> int:
        found = [i for i, entry in enumerate(entries) if fragment in entry]
        assert len(found) == 1, (fragment, entries)
        return found[0]

    order = [
        at("Original report"),
        at(f"Note by Bob First note {SECRET}-1"),
        at("internal note added (Bob)"),
        at("Bob wrote to the reporter Thanks, we are on it."),
        at("message sent to reporter (Bob)"),
        at("Note by Alice Second note"),
    ]
    assert order == sorted(order)
    assert at("report submitted (the reporter)") < order[1]
    # The page was read several times, and every read is audited, but reads
    # are not events of the case's story.
    assert AuditEvent.objects.filter(case_id=case.pk, type=AuditType.CASE_CONTENT_READ).count() == 2
    assert not [e for e in entries if "read" in e]


def test_a_recused_responder_can_do_nothing_more_on_the_case(people, case, bob):
    assert bob.post(case_url(case, "recuse")).status_code == 302
    before = stored_state()
    for action in ACTIONS:
        response = bob.post(case_url(case, action), {"text": "x", "body": "x", "statement": "x"})
        assert response.status_code == 404, action
    assert bob.get(case_url(case)).status_code == 404
    assert stored_state() == before
    assert case not in bob.get("/org-a/staff/").context["cases"]


# --- malformed input ------------------------------------------------------------------------------


@pytest.fixture
def other(people, submit_report, case):
    """A second case with a decision and a response, to borrow ids from."""
    other, _ = submit_report(people.event_a)
    decision = Decision.objects.create(
        case=other, violation="no", rationale=b"-", decided_by=people.bob, is_final=False
    )
    response = DecisionResponse.objects.create(
        decision=decision, response_type=rt(people, "A warning")
    )
    return {"decision": decision.pk, "response": response.pk}


HUGE = "9" * 30
MALFORMED = {
    "reply": [
        ({}, "Write a message before sending."),
        ({"body": " \n "}, "Write a message before sending."),
        ({"body": TOO_LONG}, f"at most {MESSAGE_MAX} characters"),
        ({"body": "a\x00b"}, "Null characters are not allowed."),
    ],
    "status": [
        ({}, "This field is required."),
        ({"status": "bogus"}, "Select a valid choice."),
        ({"status": "followed_up"}, "Select a valid choice."),
    ],
    "assign": [
        ({"assignee": "abc"}, "Select a valid choice."),
        ({"assignee": HUGE}, "Select a valid choice."),
        ({"assignee": "-1"}, "Select a valid choice."),
        ({"assignee": "{dave}"}, "Select a valid choice."),
    ],
    "note": [
        ({}, "Write the note before saving."),
        ({"text": "   "}, "Write the note before saving."),
        ({"text": TOO_LONG}, f"at most {MESSAGE_MAX} characters"),
    ],
    "meeting": [
        ({}, "The meeting record is empty."),
        ({"followups": TOO_LONG}, f"at most {MESSAGE_MAX} characters"),
        ({"nonsense": "x"}, "The meeting record is empty."),
    ],
    "decision": [
        ({}, "This field is required."),
        ({"violation": "maybe", "rationale": "r"}, "Select a valid choice."),
        ({"violation": "no"}, "This field is required."),
        ({"violation": "no", "rationale": TOO_LONG}, f"at most {MESSAGE_MAX} characters"),
        ({"violation": "no", "rationale": "r", "owner_{warning}": "abc"}, "Select a valid choice"),
        ({"violation": "no", "rationale": "r", f"response_{HUGE}": "on"}, "no longer in"),
    ],
    "reported-message": [
        ({}, "This field is required."),
        ({"to": "not-an-address", "body": "b"}, "Enter a valid email address."),
        ({"to": "them@example.org", "body": TOO_LONG}, f"at most {MESSAGE_MAX} characters"),
    ],
    "reported-approve": [
        ({}, "This field is required."),
        ({"message": "nope"}, "is not a valid UUID."),
    ],
    "approve": [
        ({}, "This field is required."),
        ({"decision": "nope"}, "Decision: “nope” is not a valid UUID."),
        ({"decision": "{other_decision}"}, "Select a valid choice."),
    ],
    "response-done": [
        ({"response": "abc"}, "Select a valid choice."),
        ({"response": HUGE, "done": "on"}, "Select a valid choice."),
        ({"response": "{other_response}", "done": "on"}, "Select a valid choice."),
    ],
    "appeal": [
        ({}, "This field is required."),
        ({"statement": TOO_LONG}, f"at most {MESSAGE_MAX} characters"),
        ({"statement": "Unfair"}, "There is no decision to appeal yet."),
    ],
}


def test_malformed_input_covers_every_action_with_fields():
    # acknowledge, urgent and flags have no input that can be wrong (the
    # second acknowledgement and the second "ongoing" are tested above).
    assert set(MALFORMED) | {"acknowledge", "urgent", "flags"} == set(ACTIONS)


@pytest.mark.parametrize("action", sorted(MALFORMED))
def test_malformed_input_is_refused_with_a_message_and_stores_nothing(
    people, case, other, bob, action
):
    ids = {
        "dave": people.dave.pk,
        "warning": rt(people, "A warning").pk,
        "other_decision": other["decision"],
        "other_response": other["response"],
    }
    for data, message in MALFORMED[action]:
        post = {
            key.format(**ids): value.format(**ids) if isinstance(value, str) else value
            for key, value in data.items()
        }
        before = stored_state()
        response = bob.post(case_url(case, action), post)
        refused(response, message)
        assert stored_state() == before, (action, data)


def test_a_case_number_that_does_not_exist_is_not_found(people, case, bob):
    for number in ("999", HUGE):
        assert bob.post(f"/org-a/staff/cases/{number}/note/", {"text": "x"}).status_code == 404
        assert bob.get(f"/org-a/staff/cases/{number}/").status_code == 404
    assert bob.post(f"/org-a/staff/cases/{case.number}/nonsense/").status_code == 404


def test_meeting_record_links_related_cases_and_escapes_the_rest(people, submit_report, login):
    first, _ = submit_report(people.event_a)
    second, _ = submit_report(people.event_a)
    bob = login(people.bob)
    response = bob.post(
        f"/org-a/staff/cases/{second.number}/meeting/",
        {"past_incidents": f"Same person as #{first.number} <b>bold</b>"},
    )
    assert response.status_code == 302
    page = bob.get(f"/org-a/staff/cases/{second.number}/").content.decode()
    assert f'<a href="/org-a/staff/cases/{first.number}/">#{first.number}</a>' in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
