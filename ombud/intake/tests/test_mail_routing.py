"""Who gets a mail and what the sender is told: the automatic answer, its
limit, and another organisation's addresses."""

from ombud.cases.models import Case
from ombud.intake.mailin import mail_receive
from ombud.intake.tests.conftest import SENDER, TEAM_A, auto_replies
from ombud.notify.models import OutboxMessage
from ombud.portal.services import receipt_open

MARKER = "QvRoute-5ad1 in the cloakroom"


def report(n: int, sender: str = SENDER, to: str = TEAM_A) -> bytes:
    return (
        f"From: Robin <{sender}>\nTo: {to}\nSubject: {MARKER} subject\n"
        f"Message-ID: <route-{n}@example.net>\n\n{MARKER} body {n}\n"
    ).encode()


def test_the_automatic_answer_gives_the_receipt_and_link_and_quotes_nothing(world):
    outcome = mail_receive(report(1))
    [reply] = auto_replies(SENDER)
    assert "QvRoute" not in reply["subject"] + reply["body"]
    assert "/org-a/report/status/" in reply["body"]
    receipt = reply["body"].split("Your receipt:\n\n    ", 1)[1].split("\n", 1)[0]
    opened = receipt_open(organisation=world.org_a, receipt=receipt)
    assert opened is not None and opened.case_id == outcome.case_id
    assert reply["headers"]["Auto-Submitted"] == "auto-replied"
    assert reply["headers"]["In-Reply-To"] == "<route-1@example.net>"
    assert reply["reply_to"] == TEAM_A


def test_one_sender_gets_at_most_five_automatic_answers_an_hour(world):
    """A forged sender or an autoresponder that marks nothing cannot make a
    loop: every mail is still a case, the answers stop."""
    before = Case.objects.count()
    for n in range(7):
        assert mail_receive(report(n)).outcome == "case"
    assert Case.objects.count() == before + 7
    assert len(auto_replies(SENDER)) == 5
    mail_receive(report(99, sender="someone-else@example.net"))
    assert len(auto_replies("someone-else@example.net")) == 1


def test_another_organisations_address_does_not_silence_a_sender(world):
    """Org B naming a reporter's own address as its team address must not
    make org A ignore that reporter's mail as "our own"."""
    world.event_b.team_email = SENDER
    world.event_b.full_clean()
    world.event_b.save()
    outcome = mail_receive(report(1))
    assert outcome.outcome == "case"
    assert Case.objects.get(pk=outcome.case_id).organisation == world.org_a
    assert OutboxMessage.objects.exists()
