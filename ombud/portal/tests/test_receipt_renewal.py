"""A lost receipt (issue 12, item 5). Nothing derived from the reporter's
address, or anything else a guess list could hold, opens a case key: a copy of
the database with the pepper and the address opens nothing. A new receipt is
made on the reporter's side (its public key waits on the case) and starts
working only once someone who holds the case opens it: the server alone
cannot give anyone a working receipt."""

import contextlib
import re
from datetime import timedelta

import nacl.exceptions
import nacl.secret
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core import mail
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from conftest import browser
from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.notify.models import OutboxMessage
from ombud.notify.tasks import outbox_deliver
from ombud.portal.models import ReceiptRenewal

ENTER = "/org-a/report/status/"
CASE = "/org-a/report/status/case/"
LOST = "/org-a/report/status/lost/"
RENEW = "/org-a/report/status/renew/"
ADDRESS = "Me@Example.org"
SECRET = "QJX-renewal-secret-5d0a"


def deliver_outbox():
    for message in OutboxMessage.objects.all():
        outbox_deliver.call(message_id=message.pk)


def renewal_link() -> str:
    deliver_outbox()
    body = mail.outbox[-1].body
    return re.search(r"https?://[^/\s]+(/org-a/report/status/renew/\S+/)", body).group(1)


def text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def ask_for_a_new_receipt(client, email="me@example.org") -> str:
    """The lost-receipt form, the link from the mail, the page it leads to,
    and the button: returns the new receipt shown."""
    mail.outbox.clear()
    assert client.post(LOST, {"email": email}).status_code == 200
    link = renewal_link()
    response = client.get(link)
    assert response.status_code == 302 and response["Location"] == RENEW
    assert client.get(RENEW).status_code == 200
    response = client.post(RENEW)
    assert response.status_code == 200
    return response.context["receipt"]


# --- what a copy of the database opens -------------------------------------------------


def _hkdf(material: bytes, *, salt, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(material)


def old_email_wrap_key(pepper: str, email: str, salt: bytes) -> bytes:
    """The key Ombud used to wrap a case key under, rebuilt from the pepper and
    the address alone (as the review did, with no Ombud code)."""
    pepper_key = _hkdf(pepper.encode(), salt=None, info=b"ombud:email-wrap")
    return _hkdf(pepper_key + email.strip().lower().encode(), salt=salt, info=b"ombud:email-wrap")


def stored_blobs() -> list[bytes]:
    """Every binary value in every table: what a copy of the database holds."""
    blobs = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from the schema
            for row in cursor.fetchall():
                blobs += [bytes(v) for v in row if isinstance(v, bytes | memoryview)]
    return blobs


def email_derived_keys_open(pepper: str, email: str) -> list[bytes]:
    """Try the address-derived key, with every stored 16-byte value as its
    salt, on every stored value: what opens."""
    blobs = stored_blobs()
    salts = {b for b in blobs if len(b) == 16} | {b""}
    opened = []
    for salt in salts:
        box = nacl.secret.SecretBox(old_email_wrap_key(pepper, email, salt))
        for blob in blobs:
            if len(blob) < box.NONCE_SIZE + box.MACBYTES:
                continue
            with contextlib.suppress(nacl.exceptions.CryptoError):
                opened.append(box.decrypt(blob))
    return opened


def test_a_database_copy_with_the_pepper_and_the_address_opens_nothing(
    client, people, submit_report, settings
):
    submit_report(people.event_a, reporter_contact=ADDRESS, description=SECRET)
    assert email_derived_keys_open(settings.OMBUD_PEPPER, ADDRESS) == []

    # Not after a new receipt either: requested, issued and working.
    ask_for_a_new_receipt(client)
    browser(people.bob).get("/org-a/staff/")
    assert email_derived_keys_open(settings.OMBUD_PEPPER, ADDRESS) == []
    assert not any(SECRET.encode() in blob for blob in stored_blobs())


@pytest.mark.django_db(transaction=True)
def test_the_migration_deletes_the_email_wraps_of_existing_cases(settings):
    """A case filed before the change still had its key wrapped under the
    address: the migration deletes the wrap and keeps the lookup."""
    before = [("cases", "0008_mailthreadref")]
    MigrationExecutor(connection).migrate(before)
    executor = MigrationExecutor(connection)  # the models as the database now has them
    apps = executor.loader.project_state(list(executor.loader.applied_migrations)).apps
    organisation = apps.get_model("orgs", "Organisation").objects.create(
        name="Old", slug="old", recovery_public_key=bytes(32)
    )
    event = apps.get_model("orgs", "Event").objects.create(
        organisation=organisation, name="Old event", slug="old-event"
    )
    salt = bytes(range(16))
    box = nacl.secret.SecretBox(old_email_wrap_key(settings.OMBUD_PEPPER, ADDRESS, salt))
    apps.get_model("cases", "Case").objects.create(
        organisation=organisation,
        event=event,
        number=1,
        channel="web",
        recovery_wrap=b"-",
        reporter_email_lookup=b"L" * 32,
        reporter_email_salt=salt,
        reporter_email_wrap=bytes(box.encrypt(b"K" * 32)),
    )
    assert email_derived_keys_open(settings.OMBUD_PEPPER, ADDRESS) == [b"K" * 32]

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert email_derived_keys_open(settings.OMBUD_PEPPER, ADDRESS) == []
    from ombud.cases.models import Case

    assert bytes(Case.objects.get().reporter_email_lookup) == b"L" * 32


# --- a new receipt ------------------------------------------------------------------------


def test_a_new_receipt_works_once_someone_who_holds_the_case_opens_it(
    client, people, submit_report, django_capture_on_commit_callbacks
):
    case, old_receipt = submit_report(
        people.event_a, reporter_contact=ADDRESS, exclude=[str(people.dave.pk)]
    )
    lost = client.get(LOST)
    assert "starts working once the team next opens your report" in text(lost)

    new_receipt = ask_for_a_new_receipt(client)

    assert new_receipt != old_receipt
    renewed = text(client.post(ENTER, {"receipt": new_receipt}))
    assert "does not work yet" in renewed
    assert "once the team next opens your report" in renewed
    assert "We found no report" not in renewed
    # Until then the old receipt still works (if the reporter still has it).
    reporter = browser()
    assert reporter.post(ENTER, {"receipt": old_receipt}).status_code == 302
    assert reporter.get(CASE).status_code == 200

    # Nobody without the case opens it: the server, an excluded responder.
    browser(people.dave).get("/org-a/staff/")
    assert "does not work yet" in text(browser().post(ENTER, {"receipt": new_receipt}))

    # bob holds the case: his signed-in session seals the case key to the new receipt.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert browser(people.bob).get("/org-a/staff/").status_code == 200
    assert browser().post(ENTER, {"receipt": new_receipt}).status_code == 302
    assert browser().post(ENTER, {"receipt": old_receipt}).status_code == 404
    # The old receipt's open visit ends with it.
    assert reporter.get(CASE).status_code == 302

    # The reporter is told by mail (no receipt in it).
    deliver_outbox()
    assert [m.to for m in mail.outbox] == [[ADDRESS]]
    assert "works now" in mail.outbox[0].body and new_receipt not in mail.outbox[0].body

    events = AuditEvent.objects.filter(case_id=case.pk).order_by("seq")
    renewal = [
        (e.type, e.actor_id)
        for e in events
        if e.type
        in (
            AuditType.RECEIPT_RENEWAL_REQUESTED,
            AuditType.RECEIPT_RENEWED,
            AuditType.RECEIPT_RENEWAL_COMPLETED,
        )
    ]
    assert renewal == [
        (AuditType.RECEIPT_RENEWAL_REQUESTED, None),
        (AuditType.RECEIPT_RENEWED, None),
        (AuditType.RECEIPT_RENEWAL_COMPLETED, people.bob.pk),
    ]


def test_the_case_page_also_completes_a_new_receipt(client, people, submit_report):
    case, _ = submit_report(people.event_a, reporter_contact=ADDRESS)
    new_receipt = ask_for_a_new_receipt(client)
    bob = browser(people.bob)
    assert bob.get(f"/org-a/staff/cases/{case.number}/").status_code == 200
    assert browser().post(ENTER, {"receipt": new_receipt}).status_code == 302


def test_only_the_newest_new_receipt_works(client, people, submit_report):
    submit_report(people.event_a, reporter_contact=ADDRESS)
    first = ask_for_a_new_receipt(client)
    second = ask_for_a_new_receipt(client)
    browser(people.alice).get("/org-a/staff/")
    assert browser().post(ENTER, {"receipt": second}).status_code == 302
    assert browser().post(ENTER, {"receipt": first}).status_code == 404


def test_the_renewal_page_says_when_the_new_receipt_works(client, people, submit_report):
    submit_report(people.event_a, reporter_contact=ADDRESS)
    client.post(LOST, {"email": "me@example.org"})
    client.get(renewal_link())
    page = text(client.get(RENEW))
    assert "works once the team next opens your report" in page
    shown = text(client.post(RENEW))
    assert "works once the team next opens your report" in shown
    assert "Your old receipt no longer works" not in shown


def test_the_renewal_link_works_once_and_not_after_30_minutes(client, people, submit_report):
    submit_report(people.event_a, reporter_contact=ADDRESS)
    client.post(LOST, {"email": "me@example.org"})
    link = renewal_link()
    client.get(link)
    assert client.post(RENEW).status_code == 200
    assert not ReceiptRenewal.objects.exists()
    assert client.post(RENEW).status_code == 404  # used once
    assert browser().get(link).status_code == 404

    # One browser opens the link in time and presses the button too late;
    # another opens it too late.
    client.post(LOST, {"email": "me@example.org"})
    link = renewal_link()
    assert client.get(link).status_code == 302
    ReceiptRenewal.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "expired" in text(client.post(RENEW))
    late = browser()
    assert late.get(link).status_code == 404
    assert "expired" in text(late.get(link))
    assert browser().get(RENEW).status_code == 404
    assert browser().get(RENEW + "not-a-token/").status_code == 404


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, people, submit_report):
    submit_report(people.event_a, reporter_contact=ADDRESS)
    known = client.post(LOST, {"email": "me@example.org"}).content.decode()
    mail.outbox.clear()
    unknown = client.post(LOST, {"email": "nobody@example.org"}).content.decode()
    assert unknown.replace("nobody", "me") == known
    deliver_outbox()
    assert [m.to for m in mail.outbox] == [["me@example.org"]]  # only the first request's
