"""The audit chain is keyed with a key from the pepper, which is never in the
database: someone who can write to the database alone cannot delete an event
and hash the chain again. And the chairs keep its head outside the database
(`audit_verify --head`, a weekly email), so even a chain cut at its end, or
rewritten by someone who has the pepper too, is noticed with
`audit_verify --expect`."""

import hashlib
import importlib
import io
import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from conftest import browser
from ombud.audit.models import GENESIS, AuditEvent, AuditHead
from ombud.audit.services import audit_log, audit_verify
from ombud.audit.types import AuditType
from ombud.lib.housekeeping import housekeeping_run
from ombud.notify.models import OutboxMessage
from ombud.notify.sealing import outbox_open

MARKER = "ZQX-chain-marker-5d2e"


@pytest.fixture
def history(people, submit_report):
    case, _ = submit_report(people.event_a, description=f"{MARKER} description")
    assert browser(people.bob).get(f"/org-a/staff/cases/{case.number}/").status_code == 200
    browser(people.alice).post(f"/org-a/staff/cases/{case.number}/recuse/")
    people.case = case
    return people


def unkeyed_hash(event: AuditEvent) -> str:
    """The chain's formula before it was keyed: anyone could compute it."""
    return hashlib.sha256(event.chain_body()).hexdigest()


def _rewrite(organisation, rehash) -> None:
    """What a database writer does to hide an event: renumber the events
    after it, link and hash them all again, and move the head."""
    prev, seq = GENESIS, 1
    for event in AuditEvent.objects.filter(organisation=organisation).order_by("seq"):
        event.seq, event.prev_hash = seq, prev
        event.hash = rehash(event)
        AuditEvent.objects.filter(pk=event.pk).update(
            seq=event.seq, prev_hash=event.prev_hash, hash=event.hash
        )
        prev, seq = event.hash, seq + 1
    AuditHead.objects.filter(pk=organisation.pk).update(seq=seq - 1, hash=prev)


def test_deleting_an_event_and_rehashing_without_the_pepper_fails(history):
    read = AuditEvent.objects.get(organisation=history.org_a, type=AuditType.CASE_CONTENT_READ)
    read.delete()
    _rewrite(history.org_a, unkeyed_hash)

    problems = audit_verify(organisation=history.org_a)
    assert problems, "the rewritten chain passed"
    assert "event 1 was altered after it was written" in problems
    with pytest.raises(CommandError):
        call_command("audit_verify", stdout=io.StringIO(), stderr=io.StringIO())


def test_the_chain_does_not_verify_under_another_pepper(history, settings):
    assert audit_verify(organisation=history.org_a) == []
    settings.OMBUD_PEPPER = "another pepper, not the one the chain was written with"
    problems = audit_verify(organisation=history.org_a)
    assert "event 1 was altered after it was written" in problems


def _head(slug: str) -> str:
    out = io.StringIO()
    call_command("audit_verify", "--head", stdout=out, stderr=io.StringIO())
    [line] = [line for line in out.getvalue().splitlines() if line.startswith(f"{slug}:")]
    return line


def test_head_printed_and_expected_again(history):
    head = _head("org-a")
    slug, seq, digest = head.split(":")
    last = AuditEvent.objects.filter(organisation=history.org_a).order_by("-seq").first()
    assert (slug, int(seq), digest) == ("org-a", last.seq, last.hash)

    # Later events do not matter: the head given is still in the chain.
    browser(history.bob).get(f"/org-a/staff/cases/{history.case.number}/")
    out = io.StringIO()
    call_command("audit_verify", "--expect", head, stdout=out, stderr=io.StringIO())
    assert f"org-a: {last.seq + 1} events, chain intact, contains event {seq}" in out.getvalue()


def test_a_chain_cut_at_its_end_fails_against_the_head_kept_outside(history):
    head = _head("org-a")
    # Cut the newest event and move the head back: the database alone agrees.
    last = AuditEvent.objects.filter(organisation=history.org_a).order_by("-seq").first()
    last.delete()
    before = AuditEvent.objects.get(organisation=history.org_a, seq=last.seq - 1)
    AuditHead.objects.filter(pk=history.org_a.pk).update(seq=before.seq, hash=before.hash)
    assert audit_verify(organisation=history.org_a) == []

    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("audit_verify", "--expect", head, stdout=io.StringIO(), stderr=err)
    assert f"org-a: event {last.seq} of the head you gave is not in the log" in err.getvalue()


def test_a_chain_rewritten_with_the_pepper_fails_against_the_head_kept_outside(history):
    """Someone with the database and the pepper can hash a chain again, even
    pad it back to its old length; the head a chair kept tells."""
    head = _head("org-a")
    seq = int(head.split(":")[1])
    AuditEvent.objects.filter(organisation=history.org_a, seq=2).delete()
    _rewrite(history.org_a, lambda event: event.compute_hash())
    with transaction.atomic():
        audit_log(organisation=history.org_a, type=AuditType.EVENT_UPDATED, data={})
    assert audit_verify(organisation=history.org_a) == []
    assert AuditEvent.objects.filter(organisation=history.org_a).count() == seq

    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("audit_verify", "--expect", head, stdout=io.StringIO(), stderr=err)
    assert f"org-a: event {seq} is not the one of the head you gave" in err.getvalue()


def test_expect_refuses_what_it_cannot_read(history):
    for bad in ["org-a", "org-a:x:y", "org-a:1:" + "0" * 63, "nobody:1:" + "0" * 64]:
        with pytest.raises(CommandError):
            call_command("audit_verify", "--expect", bad, stdout=io.StringIO())


def test_a_changed_event_before_the_head_fails_against_it(history):
    head = _head("org-a")
    seq = int(head.split(":")[1])
    event = AuditEvent.objects.get(organisation=history.org_a, seq=seq)
    AuditEvent.objects.filter(pk=event.pk).update(hash="f" * 64)
    AuditHead.objects.filter(pk=history.org_a.pk).update(hash="f" * 64)
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("audit_verify", "--expect", head, stdout=io.StringIO(), stderr=err)
    assert f"org-a: event {seq} is not the one of the head you gave" in err.getvalue()


# --- the weekly email ------------------------------------------------------------------


def _head_mails(after=0) -> list[dict]:
    return [
        outbox_open(m)
        for m in OutboxMessage.objects.filter(pk__gt=after, kind=OutboxMessage.Kind.EMAIL)
        if "audit log" in outbox_open(m)["subject"]
    ]


def test_chairs_get_the_head_by_email_each_week(history, clock):
    housekeeping_run()
    mails = _head_mails()
    assert sorted(m["to"] for m in mails) == ["alice@a.example", "charlie@b.example"]
    [to_alice] = [m for m in mails if m["to"] == "alice@a.example"]
    last = AuditEvent.objects.filter(organisation=history.org_a).order_by("-seq").first()
    assert f"--expect org-a:{last.seq}:{last.hash}" in to_alice["body"]
    assert MARKER not in json.dumps(mails)

    # Not again within the week, nor after it for a log that did not move.
    newest = OutboxMessage.objects.order_by("-pk").first().pk
    housekeeping_run()
    assert _head_mails(newest) == []
    clock.shift(timedelta(days=7, minutes=1))
    browser(history.bob).get(f"/org-a/staff/cases/{history.case.number}/")
    housekeeping_run()
    assert [m["to"] for m in _head_mails(newest)] == ["alice@a.example"]
    assert mail.outbox == [] or all(MARKER not in m.body for m in mail.outbox)


# --- the migration that keys existing chains -------------------------------------------

keyed_chain = importlib.import_module("ombud.audit.migrations.0003_keyed_chain")


def test_the_migration_keys_an_unkeyed_chain_after_verifying_it(history):
    for organisation in (history.org_a, history.org_b):
        _rewrite(organisation, unkeyed_hash)  # as the chain was before it was keyed
    assert audit_verify(organisation=history.org_a) != []
    count = AuditEvent.objects.filter(organisation=history.org_a).count()

    keyed_chain.chain_rekey(apps, None)

    for organisation in (history.org_a, history.org_b):
        assert audit_verify(organisation=organisation) == []
    events = list(AuditEvent.objects.filter(organisation=history.org_a).order_by("seq"))
    assert len(events) == count + 1
    assert events[-1].type == AuditType.AUDIT_CHAIN_KEYED
    assert events[-1].data == {"unkeyed_chain_intact": True, "unkeyed_chain_problems": []}


def test_the_migration_records_an_unkeyed_chain_that_was_already_broken(history, capsys):
    _rewrite(history.org_a, unkeyed_hash)
    AuditEvent.objects.filter(organisation=history.org_a, seq=2).update(data={"changed": 1})

    keyed_chain.chain_rekey(apps, None)

    assert audit_verify(organisation=history.org_a) == []
    last = AuditEvent.objects.filter(organisation=history.org_a).order_by("-seq").first()
    assert last.data == {
        "unkeyed_chain_intact": False,
        "unkeyed_chain_problems": ["event 2 was altered after it was written"],
    }
    assert "was broken before it was keyed" in capsys.readouterr().out
