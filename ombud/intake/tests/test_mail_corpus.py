"""Every mail of the corpus (tests/mail/, plus two made here because they are
large) through `mail_receive`, with what must become of it. What each kind is
and why it is handled so: the table in tests/mail/README.md. The `world` fixture is in conftest.py.

Replies carry placeholders the test fills in from real auto-replies:
{{TAG}} and {{MSGID}} of a case in org A, {{OTHER_MSGID}} of a second case
in org A, {{OTHER_ORG_TAG}} and {{OTHER_ORG_MSGID}} of a case in org B, and
{{RECEIPT}} of the first case."""

import base64
from dataclasses import dataclass
from pathlib import Path

import pytest

from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.cases.models import Case, Channel, Message
from ombud.intake.mail import TEXT_MAX
from ombud.intake.mailin import NO_ROUTE, mail_receive
from ombud.intake.tests.conftest import SENDER, TEAM_A, auto_replies, case_open
from ombud.lib import crypto
from ombud.notify.models import OutboxMessage
from ombud.notify.sealing import outbox_open

MAIL_DIR = Path(__file__).parent / "mail"


def _huge_attachment() -> bytes:
    """A report with an 11 MB PDF: over the 10 MB limit for one file."""
    pdf = b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024)
    encoded = base64.encodebytes(pdf).decode()  # lines of 76
    return (
        f"From: Robin Reporter <{SENDER}>\nTo: {TEAM_A}\nSubject: The full recording\n"
        "Message-ID: <12.corpus@example.net>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="m12"\n\n'
        "--m12\nContent-Type: text/plain; charset=utf-8\n\nQvMail12 the recording is attached.\n"
        '--m12\nContent-Type: application/pdf; name="recording.pdf"\n'
        'Content-Disposition: attachment; filename="recording.pdf"\n'
        f"Content-Transfer-Encoding: base64\n\n{encoded}\n--m12--\n"
    ).encode()


def _huge_text() -> bytes:
    """5 MB of text: kept up to TEXT_MAX characters, with a note."""
    text = "QvMail18 start. " + "all of this happened, at length. " * 160_000 + "QvEnd18"
    assert len(text) > 5_000_000
    return (
        f"From: {SENDER}\nTo: {TEAM_A}\nSubject: Everything\nMessage-ID: <18.corpus@example.net>\n"
        f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{text}\n"
    ).encode()


GENERATED = {"12_huge_attachment": _huge_attachment, "18_huge_text": _huge_text}


@dataclass(frozen=True)
class Expect:
    outcome: str  # case, message (on the first org A case), ignored, rejected
    contains: tuple = ()  # in the decrypted case text or message
    absent: tuple = ()  # nowhere in it
    attachments: tuple = ()  # names of the files kept
    contact: str = ""  # the reporter contact of a new case
    auto_reply: bool = False
    quarantine: bool = False
    reason: str = ""
    envelope: tuple = ()
    refused: str = ""  # the audit reason when a mail naming a case made a new one
    twice: bool = False


CASE_WITH_REPLY = {"contact": SENDER, "auto_reply": True}

EXPECTED = {
    "01_plain.eml": Expect(
        "case", ("Harassment at the evening party", "QvMail01 plain"), **CASE_WITH_REPLY
    ),
    "02_alternative.eml": Expect(
        "case", ("QvMail02 slides talk in room B",), ("QvHtml02",), **CASE_WITH_REPLY
    ),
    "03_html_only.eml": Expect(
        "case",
        ("He grabbed my arm & would not let go.", "QvMail03 second\nline"),
        ("QvScript03", "QvStyle03", "QvTitle03", "QvOnerror03", "<p>", "&amp;", "alert"),
        **CASE_WITH_REPLY,
    ),
    "04_nested.eml": Expect(
        "case",
        ("QvMail04 the nested plain text",),
        ("QvHtml04",),
        attachments=("badge.png", "schedule.pdf"),
        **CASE_WITH_REPLY,
    ),
    "05_latin1.eml": Expect("case", ("Café naïve QvMail05 à l\u2019accueil",), **CASE_WITH_REPLY),
    "06_shift_jis.eml": Expect(
        "case", ("嫌がらせの報告", "会場で嫌がらせを受けました。QvMail06"), **CASE_WITH_REPLY
    ),
    "07_windows1252.eml": Expect(
        "case", ("It\u2019s \u201cbad\u201d \u2014 QvMail07 costs €5",), **CASE_WITH_REPLY
    ),
    "08_encoded_words.eml": Expect(
        "case",
        ("Réunion à Zürich QvSubj08", "QvMail08"),
        contact="renee@example.net",
        auto_reply=True,
    ),
    "09_unknown_charset.eml": Expect(
        "case", ("Grüße QvMail09 ÿ \ufffd\ufffd raw bytes",), **CASE_WITH_REPLY
    ),
    "10_no_message_id.eml": Expect("case", ("QvMail10",), twice=True, **CASE_WITH_REPLY),
    "11_no_from.eml": Expect("case", ("QvMail11",)),
    "12_huge_attachment": Expect(
        "case",
        ("QvMail12", "[attachment 'recording.pdf' not kept: larger than 10 MB]"),
        **CASE_WITH_REPLY,
    ),
    "13_zero_byte.eml": Expect(
        "case", ("QvMail13", "[attachment 'empty.txt' not kept: empty]"), **CASE_WITH_REPLY
    ),
    "14_zip.eml": Expect(
        "case",
        ("QvMail14", "[attachment 'evidence.zip' not kept: type not accepted]"),
        ("evidence inside a zip",),
        **CASE_WITH_REPLY,
    ),
    "15_forwarded_eml.eml": Expect(
        "case", ("QvMail15",), ("QvInner15",), attachments=("threat.eml",), **CASE_WITH_REPLY
    ),
    "16_bad_boundary.eml": Expect(
        "case", ("QvMail16 the boundary in the header never appears.",), **CASE_WITH_REPLY
    ),
    "17_header_injection.eml": Expect(
        "case", ("QvMail17", "QvInjected17"), contact="eve@example.net", auto_reply=True
    ),
    "18_huge_text": Expect(
        "case",
        ("QvMail18 start.", f"its text was cut at {TEXT_MAX:,} characters"),
        ("QvEnd18",),
        **CASE_WITH_REPLY,
    ),
    "19_reply_in_reply_to.eml": Expect("message", ("QvMail19 one more thing",)),
    "20_reply_tag_subject.eml": Expect("message", ("QvMail20",)),
    "21_reply_plus_address.eml": Expect("message", ("QvMail21",)),
    "22_reply_case_number.eml": Expect("case", ("Case 1 (#1)", "QvMail22"), **CASE_WITH_REPLY),
    "23_tag_thread_mismatch.eml": Expect(
        "case", ("QvMail23",), refused="tag and thread disagree", **CASE_WITH_REPLY
    ),
    "24_other_org_tag.eml": Expect(
        "case", ("QvMail24",), refused="case of another organisation", **CASE_WITH_REPLY
    ),
    "25_auto_submitted.eml": Expect("ignored", reason="auto-submitted"),
    "26_precedence_bulk.eml": Expect("ignored", reason="bulk"),
    "27_bounce.eml": Expect("ignored", reason="bounce"),
    "28_own_address.eml": Expect("ignored", reason="own address"),
    "29_duplicate.eml": Expect("case", ("QvMail29",), twice=True, **CASE_WITH_REPLY),
    "30_png.eml": Expect("case", ("QvMail30",), attachments=("screenshot.png",), **CASE_WITH_REPLY),
    "31_pdf.eml": Expect("case", ("QvMail31",), attachments=("statement.pdf",), **CASE_WITH_REPLY),
    "32_no_route.eml": Expect("rejected", reason=NO_ROUTE),
    "33_empty.eml": Expect("rejected", quarantine=True, reason="empty"),
    "34_not_a_mail.eml": Expect(
        "rejected", quarantine=True, reason="no headers", envelope=(TEAM_A,)
    ),
    "35_mailing_list.eml": Expect("case", ("QvMail35",), contact=SENDER),
    "36_x_autoreply.eml": Expect("ignored", reason="auto-reply"),
    "37_receipt_quoted.eml": Expect("message", ("QvMail37", "[receipt removed]")),
    "38_blank_plain_alternative.eml": Expect(
        "case", ("From my phone", "He grabbed my arm at the party. QvMail38"), **CASE_WITH_REPLY
    ),
}


def corpus_names() -> list[str]:
    return sorted([p.name for p in MAIL_DIR.glob("*.eml")] + list(GENERATED))


def corpus_raw(name: str) -> bytes:
    return GENERATED[name]() if name in GENERATED else (MAIL_DIR / name).read_bytes()


def filled(raw: bytes, world) -> bytes:
    for placeholder, value in {
        "TAG": world.first["tag"],
        "MSGID": world.first["msgid"],
        "RECEIPT": world.first["receipt"],
        "OTHER_MSGID": world.second["msgid"],
        "OTHER_ORG_TAG": world.in_b["tag"],
        "OTHER_ORG_MSGID": world.in_b["msgid"],
    }.items():
        raw = raw.replace(b"{{%s}}" % placeholder.encode(), value.encode())
    assert b"{{" not in raw, "a placeholder without a value"
    return raw


def test_the_corpus_is_complete():
    assert corpus_names() == sorted(EXPECTED)
    assert len(EXPECTED) >= 30


@pytest.mark.parametrize("name", corpus_names())
def test_corpus_mail(name, world):
    expect = EXPECTED[name]
    raw = filled(corpus_raw(name), world)
    cases_before = set(Case.objects.values_list("pk", flat=True))
    messages_before = Message.objects.count()
    outbox_before = OutboxMessage.objects.order_by("-pk").values_list("pk", flat=True).first()

    outcome = mail_receive(raw, envelope_recipients=list(expect.envelope) or None)

    assert outcome.outcome == expect.outcome, outcome
    assert outcome.quarantine is expect.quarantine
    if expect.reason:
        assert outcome.reason == expect.reason
    new_cases = Case.objects.exclude(pk__in=cases_before)
    seeded = [world.first["case"], world.second["case"], world.in_b["case"]]

    if expect.outcome == "case":
        [case] = new_cases
        assert outcome.case_id == case.pk
        assert case.organisation == world.org_a and case.channel == Channel.EMAIL
        content = case_open(case, world.kit_a)
        text = content.report["description"]
        assert content.report["reporter_contact"] == expect.contact
        assert content.report["consent_contact"] is bool(expect.contact)
        assert sorted(name for _, name in content.attachments) == sorted(expect.attachments)
        replies = auto_replies(expect.contact or SENDER, after=outbox_before or 0)
        assert len(replies) == (1 if expect.auto_reply else 0)
        refused = AuditEvent.objects.filter(case_id=case.pk, type=AuditType.MAIL_THREAD_REFUSED)
        assert [e.data["reason"] for e in refused] == ([expect.refused] if expect.refused else [])
        assert Message.objects.count() == messages_before, "no message on any other case"
    elif expect.outcome == "message":
        assert not new_cases.exists()
        assert outcome.case_id == world.first["case"].pk
        messages = case_open(world.first["case"], world.kit_a).messages
        message, text = messages[-1]
        assert message.direction == Message.Direction.FROM_REPORTER
        assert crypto.is_inbox_sealed(bytes(message.body)), "sealed to the case inbox"
        assert Message.objects.count() == messages_before + 1
        assert OutboxMessage.objects.filter(pk__gt=outbox_before or 0).count() == 0, "no reply"
        assert world.first["receipt"] not in text
    else:
        assert not new_cases.exists() and Message.objects.count() == messages_before
        assert outcome.case_id is None
        text = ""
        queued = [outbox_open(m) for m in OutboxMessage.objects.filter(pk__gt=outbox_before or 0)]
        if expect.quarantine:
            # The chair is told, without a word of the mail.
            assert [m["to"] for m in queued] == ["alice@a.example"]
            assert "Qv" not in queued[0]["subject"] + queued[0]["body"]
            assert TEAM_A in queued[0]["body"]
        else:
            assert queued == []

    for snippet in expect.contains:
        assert snippet in text
    for snippet in expect.absent:
        assert snippet not in text
    for case in seeded:  # nothing reached the cases it must not
        if not (expect.outcome == "message" and case == world.first["case"]):
            assert not Message.objects.filter(case=case).exists()

    if expect.twice:
        again = mail_receive(raw)
        assert again.duplicate and again.case_id == outcome.case_id
        assert Case.objects.exclude(pk__in=cases_before).count() == 1
        assert len(auto_replies(SENDER, after=outbox_before or 0)) == 1
