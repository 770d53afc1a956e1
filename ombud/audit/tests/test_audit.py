"""Every service leaves its mark in the organisation's hash chain, the chain
can be verified, and tampering with it is detected. The log holds no report
content."""

import io
import itertools
import json

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from conftest import browser
from ombud.audit.models import GENESIS, AuditEvent
from ombud.audit.services import audit_verify
from ombud.audit.types import AuditType
from ombud.orgs.management.commands.audit_verify import Command as AuditVerifyCommand
from ombud.orgs.models import Membership, Role
from ombud.orgs.services import (
    event_create,
    event_update,
    member_add,
    member_role_change,
    organisation_create,
)

MARKER = "ZQX-audit-marker-91c7"


def last_event(organisation) -> AuditEvent:
    return AuditEvent.objects.filter(organisation=organisation).order_by("-seq").first()


# --- every service writes its event -------------------------------------------------


def test_organisation_create_starts_the_chain(people):
    event = AuditEvent.objects.get(organisation=people.org_a)  # the only one so far
    assert event.type == AuditType.ORGANISATION_CREATED
    assert event.actor_id == people.alice.pk
    assert event.case_id is None
    assert event.seq == 1 and event.prev_hash == GENESIS
    assert event.data == {
        "chair": people.alice.pk,
        "responders": [people.bob.pk, people.dave.pk],
        "trustees": [people.alice.pk, people.bob.pk, people.dave.pk],
        "threshold": 2,
    }
    # Each organisation has its own chain.
    assert AuditEvent.objects.get(organisation=people.org_b).actor_id == people.charlie.pk


def test_organisation_create_via_service(people):
    org_new = organisation_create(name="Org C", slug="org-c", chair=people.bob)
    org = org_new.organisation
    event = last_event(org)
    assert (event.type, event.actor_id, event.seq) == (
        AuditType.ORGANISATION_CREATED,
        people.bob.pk,
        1,
    )


def test_event_create(people):
    event = event_create(
        actor=people.alice, organisation=people.org_a, name="Sprint day", slug="sprints"
    )
    logged = last_event(people.org_a)
    assert logged.type == AuditType.EVENT_CREATED
    assert logged.actor_id == people.alice.pk
    assert logged.case_id is None
    assert logged.data == {"event": event.pk}


def test_event_update_names_the_changed_fields(people):
    event_update(actor=people.alice, event=people.event_a, name="PyConf A 2025", crisis_line="x")
    logged = last_event(people.org_a)
    assert logged.type == AuditType.EVENT_UPDATED
    assert logged.actor_id == people.alice.pk
    assert logged.data == {"event": people.event_a.pk, "fields": ["crisis_line", "name"]}


def test_member_add(people):
    # An existing account is invited too: joining takes their acceptance.
    invitation = member_add(
        actor=people.alice,
        organisation=people.org_a,
        email="charlie@b.example",
        display_name="Charlie",
        role=Role.RESPONDER,
    )
    logged = last_event(people.org_a)
    assert logged.type == AuditType.MEMBER_INVITED
    assert logged.actor_id == people.alice.pk
    assert logged.data == {"invitation": invitation.pk, "role": "responder"}


def test_member_invite(people):
    invitation = member_add(
        actor=people.alice,
        organisation=people.org_a,
        email="erin@a.example",
        display_name="Erin",
        role=Role.RESPONDER,
    )
    logged = last_event(people.org_a)
    assert logged.type == AuditType.MEMBER_INVITED
    assert logged.actor_id == people.alice.pk
    assert logged.data == {"invitation": invitation.pk, "role": "responder"}


def test_member_role_change(people):
    membership = Membership.objects.get(user=people.bob, organisation=people.org_a)
    member_role_change(actor=people.alice, membership=membership, role=Role.CHAIR)
    logged = last_event(people.org_a)
    assert logged.type == AuditType.MEMBER_ROLE_CHANGED
    assert logged.actor_id == people.alice.pk
    assert logged.data == {"user": people.bob.pk, "role": "chair"}


def test_case_submit_is_logged_without_an_actor(people, submit_report):
    case, _ = submit_report(people.event_a, exclude=[str(people.dave.pk)])
    logged = last_event(people.org_a)
    assert logged.type == AuditType.CASE_SUBMITTED
    assert logged.actor_id is None, "the reporter is anonymous"
    assert logged.case_id == case.pk
    assert logged.data["excluded"] == [people.dave.pk]


def test_every_read_of_the_case_page_is_logged(people, submit_report):
    case, _ = submit_report(people.event_a)
    bob = browser(people.bob)
    before = AuditEvent.objects.filter(type=AuditType.CASE_CONTENT_READ).count()
    for _ in range(2):
        assert bob.get(f"/org-a/staff/cases/{case.number}/").status_code == 200
        logged = last_event(people.org_a)
        assert logged.type == AuditType.CASE_CONTENT_READ
        assert logged.actor_id == people.bob.pk
        assert logged.case_id == case.pk
    assert AuditEvent.objects.filter(type=AuditType.CASE_CONTENT_READ).count() == before + 2


def test_dashboard_reads_no_content_and_logs_nothing(people, submit_report):
    submit_report(people.event_a)
    count = AuditEvent.objects.count()
    assert browser(people.bob).get("/org-a/staff/").status_code == 200
    assert AuditEvent.objects.count() == count


def test_case_recuse(people, submit_report):
    case, _ = submit_report(people.event_a)
    response = browser(people.bob).post(f"/org-a/staff/cases/{case.number}/recuse/")
    assert response.status_code == 302
    logged = last_event(people.org_a)
    assert logged.type == AuditType.CASE_RECUSED
    assert logged.actor_id == people.bob.pk
    assert logged.case_id == case.pk


@pytest.mark.parametrize(
    "call",
    [
        lambda p: event_create(actor=p.bob, organisation=p.org_a, name="Sneaky", slug="sneaky"),
        lambda p: event_update(actor=p.bob, event=p.event_a, name="Renamed"),
        lambda p: event_create(actor=p.charlie, organisation=p.org_a, name="X", slug="x"),
        lambda p: member_add(
            actor=p.bob,
            organisation=p.org_a,
            email="mallory@a.example",
            display_name="M",
            role=Role.CHAIR,
        ),
        lambda p: member_role_change(
            actor=p.dave,
            membership=Membership.objects.get(user=p.dave, organisation=p.org_a),
            role=Role.CHAIR,
        ),
    ],
    ids=["event_create", "event_update", "event_create other org", "member_add", "role_change"],
)
def test_refused_service_calls_write_no_event(people, call):
    count = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        call(people)
    assert AuditEvent.objects.count() == count


# --- the chain and audit_verify ------------------------------------------------------


@pytest.fixture
def history(people, submit_report):
    """A realistic chain for org A: created, an event added, a report read and a recusal."""
    event_create(actor=people.alice, organisation=people.org_a, name="Sprint day", slug="sprints")
    case, receipt = submit_report(
        people.event_a,
        description=f"{MARKER} description",
        location=f"{MARKER} location",
        reported_name=f"{MARKER} reported name",
        reported_email="marker-person@example.org",
        reporter_contact="reporter-marker@example.org",
        witnesses=f"{MARKER} witnesses",
        exclude=[str(people.dave.pk)],
    )
    assert browser(people.bob).get(f"/org-a/staff/cases/{case.number}/").status_code == 200
    browser(people.alice).post(f"/org-a/staff/cases/{case.number}/recuse/")
    people.case, people.receipt = case, receipt
    return people


def test_chain_links_every_event_to_the_one_before(history):
    events = list(AuditEvent.objects.filter(organisation=history.org_a).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events] == [
        AuditType.ORGANISATION_CREATED,
        AuditType.EVENT_CREATED,
        AuditType.CASE_SUBMITTED,
        AuditType.CASE_CONTENT_READ,
        AuditType.CASE_RECUSED,
    ]
    assert events[0].prev_hash == GENESIS
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    assert audit_verify(organisation=history.org_a) == []


def test_audit_verify_passes_on_an_intact_log(history):
    out = io.StringIO()
    call_command("audit_verify", stdout=out, stderr=io.StringIO())
    assert "org-a: 5 events, chain intact" in out.getvalue()
    assert "org-b: 1 events, chain intact" in out.getvalue()


def _verify_fails(expected_problem: str):
    err = io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("audit_verify", stdout=io.StringIO(), stderr=err)
    assert "audit chain broken in 1 organisation(s)" in str(excinfo.value)
    assert excinfo.value.returncode != 0
    assert expected_problem in err.getvalue()


def test_audit_verify_fails_after_a_row_is_altered(history):
    recused = AuditEvent.objects.get(organisation=history.org_a, seq=5)
    AuditEvent.objects.filter(pk=recused.pk).update(data={"note": "nothing to see"})
    _verify_fails("org-a: event 5 was altered after it was written")


def test_audit_verify_fails_when_the_actor_is_rewritten(history):
    # Pin a read on someone else: only the actor column changes.
    AuditEvent.objects.filter(organisation=history.org_a, seq=4).update(actor_id=history.dave.pk)
    _verify_fails("org-a: event 4 was altered after it was written")


def test_audit_verify_fails_when_a_rewritten_row_is_rehashed(history):
    """Recomputing the altered row's own hash does not help: the next event
    still points at the old one."""
    event = AuditEvent.objects.get(organisation=history.org_a, seq=3)
    event.data = {"channel": "web", "urgent": False, "excluded": []}
    event.hash = event.compute_hash()
    AuditEvent.objects.filter(pk=event.pk).update(data=event.data, hash=event.hash)
    _verify_fails("org-a: event 4 does not link to the event before it")


def test_audit_verify_fails_after_a_row_is_deleted(history):
    AuditEvent.objects.filter(organisation=history.org_a, seq=4).delete()
    _verify_fails("org-a: event 4 is missing (found 5)")


def test_audit_verify_exits_non_zero_from_the_command_line(history, monkeypatch, capsys):
    AuditEvent.objects.filter(organisation=history.org_a, seq=2).update(data={})
    # The command closes connections when it ends; keep the test's transaction.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    with pytest.raises(SystemExit) as excinfo:
        AuditVerifyCommand().run_from_argv(["manage.py", "audit_verify", "--skip-checks"])
    assert excinfo.value.code == 1
    assert "audit chain broken" in capsys.readouterr().err


# --- no report content in the log ------------------------------------------------------


def test_audit_log_holds_no_report_content_or_receipt(history):
    rows = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert MARKER not in rows
    assert "marker-person@example.org" not in rows
    assert "reporter-marker@example.org" not in rows
    receipt = history.receipt
    assert receipt not in rows
    assert receipt.replace("-", "") not in rows


def test_audit_verify_notices_the_newest_events_cut_off(people, submit_report):
    from ombud.audit.services import audit_verify

    submit_report(people.event_a)
    assert audit_verify(organisation=people.org_a) == []
    AuditEvent.objects.filter(organisation=people.org_a).order_by("-seq").first().delete()
    problems = audit_verify(organisation=people.org_a)
    assert problems and "but" in problems[0]
    with pytest.raises(CommandError):
        call_command("audit_verify")
