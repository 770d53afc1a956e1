"""Staff account lifecycle (issue 4): password change and reset, member
removal, invitations, lockout, session limits, mass assignment."""

import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from conftest import PASSWORD, browser
from ombud.accounts.models import User
from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.cases.models import Case, Grant, PendingAccess
from ombud.notify.models import OutboxMessage
from ombud.notify.sealing import outbox_open
from ombud.orgs.models import Invitation, Membership, Role

MARKER = "ZQX-lifecycle-marker-91c"
NEW_PASSWORD = "a brand new passphrase 7731"


@pytest.fixture
def case(people, submit_report):
    case, _ = submit_report(people.event_a, description=f"{MARKER} in the description")
    return case


def case_url(case):
    return f"/org-a/staff/cases/{case.number}/"


def reads(client, case) -> bool:
    response = client.get(case_url(case))
    return response.status_code == 200 and MARKER in response.content.decode()


def emails_to(address: str) -> list[dict]:
    return [
        m
        for m in (outbox_open(o) for o in OutboxMessage.objects.filter(kind="email"))
        if m["to"] == address
    ]


def snapshot(user) -> tuple:
    user = User.objects.get(pk=user.pk)
    return (
        user.password,
        bytes(user.public_key),
        bytes(user.private_key_box),
        bytes(user.key_salt),
        user.is_superuser,
        user.is_staff,
        user.email,
    )


def no_secret_stored(*secrets: str) -> None:
    """Neither the audit log nor the outbox rows hold these strings."""
    for event in AuditEvent.objects.all():
        text = json.dumps(event.data)
        assert not any(s in text for s in secrets)
    for row in OutboxMessage.objects.all():
        assert not any(s.encode() in bytes(row.payload) for s in secrets)


# --- 2. password change -----------------------------------------------------------


def test_password_change_keeps_every_case_readable_and_ends_other_sessions(people, case, caplog):
    here, elsewhere = browser(people.bob), browser(people.bob)
    assert reads(here, case) and reads(elsewhere, case)
    public_key = bytes(people.bob.public_key)

    response = here.post(
        "/staff/profile/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert response.redirect_chain == [("/staff/profile/", 302)]
    assert "Your password is changed" in response.content.decode()

    assert reads(here, case), "the same key pair, re-sealed for this session"
    other = elsewhere.get(case_url(case))
    assert other.status_code == 302 and other["Location"].startswith("/accounts/login/")
    assert bytes(User.objects.get(pk=people.bob.pk).public_key) == public_key
    assert Grant.objects.filter(case=case, user=people.bob).exists()
    assert (
        browser()
        .post("/accounts/login/", {"username": people.bob.email, "password": PASSWORD})
        .status_code
        == 200
    )
    assert reads(browser(people.bob, NEW_PASSWORD), case)
    assert (
        AuditEvent.objects.filter(type=AuditType.PASSWORD_CHANGED, actor_id=people.bob.pk).count()
        == 1
    )
    no_secret_stored(PASSWORD, NEW_PASSWORD)
    assert NEW_PASSWORD not in caplog.text and PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {
                "old_password": "wrong password!!",
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
            "Your old password was entered incorrectly",
        ),
        (
            {
                "old_password": PASSWORD,
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD + "x",
            },
            "The two password fields didn",
        ),
        (
            {"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"},
            "This password is too short",
        ),
        (
            {
                "old_password": PASSWORD,
                "new_password1": "password1234",
                "new_password2": "password1234",
            },
            "This password is too common",
        ),
    ],
    ids=["wrong old", "mismatch", "too short", "too common"],
)
def test_password_change_refused_changes_nothing(people, case, data, message):
    client = browser(people.bob)
    before = snapshot(people.bob)
    audit_before = AuditEvent.objects.count()
    response = client.post("/staff/profile/password/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot(people.bob) == before
    assert AuditEvent.objects.count() == audit_before
    assert reads(client, case)


def test_password_change_needs_login():
    response = Client().post(
        "/staff/profile/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_password_change_ignores_extra_fields(people):
    browser(people.bob).post(
        "/staff/profile/password/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "is_superuser": "on",
            "is_staff": "on",
            "email": "evil@example.org",
            "role": "chair",
        },
    )
    bob = User.objects.get(pk=people.bob.pk)
    assert bob.check_password(NEW_PASSWORD)
    assert (bob.is_superuser, bob.is_staff, bob.email) == (False, False, "bob@a.example")
    assert Membership.objects.get(user=bob, organisation=people.org_a).role == Role.RESPONDER


# --- 3. forgotten password --------------------------------------------------------


def _reset_link(address: str) -> str:
    (mail,) = emails_to(address)
    return re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", mail["body"]).group(1)


def test_reset_request_does_not_reveal_whether_the_email_exists(people):
    known = Client().post("/accounts/password/reset/", {"email": "BOB@a.example"}, follow=True)
    unknown = Client().post("/accounts/password/reset/", {"email": "nobody@a.example"}, follow=True)
    assert (
        known.redirect_chain == unknown.redirect_chain == [("/accounts/password/reset/sent/", 302)]
    )
    assert known.content == unknown.content
    assert len(emails_to("bob@a.example")) == 1
    assert emails_to("nobody@a.example") == []


def test_reset_gives_a_new_key_and_moves_grants_to_pending_access(people, case, caplog):
    old_session = browser(people.bob)
    assert reads(old_session, case)
    old_public = bytes(people.bob.public_key)
    Client().post("/accounts/password/reset/", {"email": "bob@a.example"})
    link = _reset_link("bob@a.example")

    client = Client()
    response = client.get(link)
    assert response.status_code == 302  # the token leaves the address bar
    form_url = response["Location"]
    assert link.rstrip("/").rsplit("/", 1)[1] not in form_url  # Django's own: issue 12, item 16
    response = client.post(
        form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True
    )
    html = response.content.decode()
    assert response.redirect_chain == [("/accounts/password/reset/complete/", 302)]
    assert "Your access to cases must be restored" in html
    assert "the 1 case you could read is closed to you" in html
    assert "by the chair with the recovery kit" in html

    bob = User.objects.get(pk=people.bob.pk)
    assert bytes(bob.public_key) != old_public
    assert not Grant.objects.filter(user=bob).exists()
    assert set(PendingAccess.objects.filter(user=bob).values_list("case", flat=True)) == {case.pk}
    event = AuditEvent.objects.get(type=AuditType.PASSWORD_RESET, actor_id=bob.pk)
    assert event.data["pending_cases"] == [case.number]

    # Nothing is readable by bob before someone restores it; the rest of the team reads on.
    assert old_session.get(case_url(case)).status_code == 302  # the old session has ended
    fresh = browser(bob, NEW_PASSWORD)
    assert fresh.get(case_url(case)).status_code == 404
    assert fresh.get("/org-a/staff/").context["total"] == 0
    assert reads(browser(people.alice), case)

    # The link works once.
    again = Client().get(link)
    assert again.status_code == 400
    assert "This password reset link is not valid" in again.content.decode()
    no_secret_stored(NEW_PASSWORD)
    assert NEW_PASSWORD not in caplog.text
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert token not in caplog.text
    for event in AuditEvent.objects.all():
        assert token not in json.dumps(event.data)


def test_expired_reset_link_is_refused(people, case):
    Client().post("/accounts/password/reset/", {"email": "bob@a.example"})
    link = _reset_link("bob@a.example")
    before = snapshot(people.bob)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        response = Client().get(link, follow=True)
    assert response.status_code == 400
    assert "has expired, was used already" in response.content.decode()
    assert snapshot(people.bob) == before
    assert Grant.objects.filter(user=people.bob, case=case).exists()


@pytest.mark.parametrize(
    ("p1", "p2", "message"),
    [
        (NEW_PASSWORD, NEW_PASSWORD + "x", "The two password fields didn"),
        ("short", "short", "This password is too short"),
    ],
)
def test_reset_with_bad_new_password_changes_nothing(people, case, p1, p2, message):
    Client().post("/accounts/password/reset/", {"email": "bob@a.example"})
    client = Client()
    form_url = client.get(_reset_link("bob@a.example"))["Location"]
    before = snapshot(people.bob)
    response = client.post(form_url, {"new_password1": p1, "new_password2": p2})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot(people.bob) == before
    assert Grant.objects.filter(user=people.bob, case=case).exists()
    assert not PendingAccess.objects.exists()


# --- 6. member removal -----------------------------------------------------------


def test_chair_removes_a_member_and_their_open_session_stops_working(people, case):
    Case.objects.filter(pk=case.pk).update(assignee=people.bob)
    bob_tab = browser(people.bob)
    assert reads(bob_tab, case)
    PendingAccess.objects.create(case=case, user=people.dave)
    membership = Membership.objects.get(user=people.bob, organisation=people.org_a)
    alice = browser(people.alice)

    confirm = alice.get(f"/org-a/staff/team/{membership.pk}/remove/")
    assert confirm.status_code == 200
    assert f"Case #{case.number}" in confirm.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists(), "GET changes nothing"

    response = alice.post(f"/org-a/staff/team/{membership.pk}/remove/")
    assert response.status_code == 200
    assert f"Case #{case.number}" in response.content.decode()
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert not Grant.objects.filter(user=people.bob).exists()
    assert Case.objects.get(pk=case.pk).assignee is None
    event = AuditEvent.objects.get(type=AuditType.MEMBER_REMOVED)
    assert event.data["user"] == people.bob.pk and event.data["unassigned_cases"] == [case.number]

    assert bob_tab.get(case_url(case)).status_code == 404
    assert bob_tab.get("/org-a/staff/").status_code == 404
    assert reads(alice, case)


def test_removal_deletes_pending_access_too(people, case):
    PendingAccess.objects.create(case=case, user=people.dave)
    Grant.objects.filter(user=people.dave).delete()
    membership = Membership.objects.get(user=people.dave, organisation=people.org_a)
    browser(people.alice).post(f"/org-a/staff/team/{membership.pk}/remove/")
    assert not PendingAccess.objects.filter(user=people.dave).exists()


def test_the_last_chair_cannot_be_removed(people):
    membership = Membership.objects.get(user=people.alice, organisation=people.org_a)
    audit_before = AuditEvent.objects.count()
    response = browser(people.alice).post(f"/org-a/staff/team/{membership.pk}/remove/", follow=True)
    assert response.status_code == 200
    assert "The last chair cannot be removed" in response.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert AuditEvent.objects.count() == audit_before


def test_a_second_chair_can_be_removed(people):
    bob = Membership.objects.get(user=people.bob, organisation=people.org_a)
    Membership.objects.filter(pk=bob.pk).update(role=Role.CHAIR)
    response = browser(people.alice).post(f"/org-a/staff/team/{bob.pk}/remove/")
    assert response.status_code == 200
    assert not Membership.objects.filter(pk=bob.pk).exists()


def test_removal_of_another_organisations_member_is_404(people):
    charlie = Membership.objects.get(user=people.charlie, organisation=people.org_b)
    response = browser(people.alice).post(f"/org-a/staff/team/{charlie.pk}/remove/")
    assert response.status_code == 404
    assert Membership.objects.filter(pk=charlie.pk).exists()


def test_a_responder_cannot_remove_anyone(people):
    dave = Membership.objects.get(user=people.dave, organisation=people.org_a)
    response = browser(people.bob).post(f"/org-a/staff/team/{dave.pk}/remove/")
    assert response.status_code == 403
    assert Membership.objects.filter(pk=dave.pk).exists()


# --- 1. invitations ----------------------------------------------------------------


def _invite(people, email="newbie@a.example", **extra):
    data = {"email": email, "display_name": "Newbie", "role": "responder", **extra}
    return browser(people.alice).post("/org-a/staff/team/add/", data)


def _invitation_link(address="newbie@a.example") -> str:
    (mail,) = emails_to(address)
    return re.search(r"https?://[^/\s]+(/accounts/invitation/\S+/)", mail["body"]).group(1)


def test_invitation_is_emailed_and_accepting_it_creates_the_account_and_key(people, case, caplog):
    response = _invite(people)
    assert response.status_code == 200
    assert "An invitation is on its way" in response.content.decode()
    assert not User.objects.filter(email="newbie@a.example").exists()
    link = _invitation_link()
    token = link.rstrip("/").rsplit("/", 1)[1]
    invitation = Invitation.objects.get()
    assert token.encode() not in bytes(invitation.secret_hash)
    assert AuditEvent.objects.filter(type=AuditType.MEMBER_INVITED).exists()
    team = browser(people.alice).get("/org-a/staff/team/").content.decode()
    assert "newbie@a.example" in team and "Responder, invited" in team

    client = Client()
    assert client.get(link)["Location"] == "/accounts/invitation/"  # the token leaves the URL
    assert client.get("/accounts/invitation/").status_code == 200
    response = client.post(
        "/accounts/invitation/",
        {
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "role": "chair",
            "email": "evil@example.org",
            "is_superuser": "on",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="newbie@a.example")
    assert user.has_keys and not user.is_superuser
    assert Membership.objects.get(user=user, organisation=people.org_a).role == Role.RESPONDER
    assert not User.objects.filter(email="evil@example.org").exists()
    assert not Invitation.objects.exists()
    # Logged in, sees no existing case.
    assert client.get("/org-a/staff/").context["total"] == 0
    assert client.get(case_url(case)).status_code == 404
    assert not Grant.objects.filter(user=user).exists()
    # The link works once.
    used = Client().get(link)
    assert used.status_code == 404
    assert "This invitation link is not valid" in used.content.decode()
    no_secret_stored(NEW_PASSWORD, token)
    assert token not in caplog.text and NEW_PASSWORD not in caplog.text


def test_expired_invitation_is_refused(people):
    _invite(people)
    link = _invitation_link()
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        response = Client().post(
            link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
        )
    assert response.status_code == 404
    assert "may have expired or been used already" in response.content.decode()
    assert not User.objects.filter(email="newbie@a.example").exists()


@pytest.mark.parametrize(
    ("p1", "p2", "message"),
    [
        (NEW_PASSWORD, NEW_PASSWORD + "x", "The two passwords do not match"),
        ("short", "short", "This password is too short"),
    ],
)
def test_invitation_with_bad_password_creates_nothing(people, p1, p2, message):
    _invite(people)
    response = Client().post(_invitation_link(), {"new_password1": p1, "new_password2": p2})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.filter(email="newbie@a.example").exists()
    assert Invitation.objects.exists()


def test_an_existing_account_is_invited_like_anyone_else(people):
    response = _invite(people, email="charlie@b.example")
    assert response.status_code == 200
    assert "An invitation is on its way" in response.content.decode()
    assert not Membership.objects.filter(user=people.charlie, organisation=people.org_a).exists()
    assert Invitation.objects.get().email == "charlie@b.example"
    assert len(emails_to("charlie@b.example")) == 1


def test_inviting_again_replaces_the_link(people):
    _invite(people)
    first = _invitation_link()
    OutboxMessage.objects.all().delete()
    _invite(people)
    assert Invitation.objects.count() == 1
    assert Client().get(first).status_code == 404
    assert Client().get(_invitation_link()).status_code == 302  # to the form, token-free


# --- 5. lockout --------------------------------------------------------------------


def test_failed_logins_say_the_same_whether_the_email_exists_or_not(people):
    known = Client().post("/accounts/login/", {"username": "bob@a.example", "password": "nope"})
    unknown = Client().post("/accounts/login/", {"username": "no@a.example", "password": "nope"})
    assert known.status_code == unknown.status_code == 200

    def page(response, email):
        html = response.content.decode().replace(email, "X")
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)

    assert page(known, "bob@a.example") == page(unknown, "no@a.example")
    assert "Please enter a correct" in page(known, "bob@a.example")


def test_five_failures_lock_the_account_from_that_address_for_15_minutes(people):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(5):
        response = attacker.post(
            "/accounts/login/", {"username": "bob@a.example", "password": "guess!!"}
        )
    assert response.status_code in (200, 429)
    response = attacker.post(
        "/accounts/login/", {"username": "bob@a.example", "password": PASSWORD}
    )
    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many failed logins" in html and "15 minutes" in html
    assert "_auth_user_id" not in attacker.session
    # Bob from his own address is not locked out by the attacker.
    assert browser(people.bob, ip="198.51.100.7").get("/staff/").status_code == 302
    # After the cool-off, the right password works again from there too.
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        response = Client(REMOTE_ADDR="203.0.113.9").post(
            "/accounts/login/", {"username": "bob@a.example", "password": PASSWORD}
        )
    assert response.status_code == 302


def test_behind_a_proxy_the_lockout_is_per_client_not_per_proxy(people, settings):
    settings.OMBUD_TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"
    attacker = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.9")
    for _ in range(5):
        attacker.post("/accounts/login/", {"username": "bob@a.example", "password": "guess!!"})
    right = {"username": "bob@a.example", "password": PASSWORD}
    assert attacker.post("/accounts/login/", right).status_code == 429
    # Bob comes through the same proxy from his own address, and logs in; a
    # forged address left of the proxy's entry changes nothing.
    bob = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7")
    assert bob.post("/accounts/login/", right).status_code == 302


def test_without_a_trusted_proxy_forwarded_for_is_ignored(people):
    for i in range(5):
        Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").post(
            "/accounts/login/", {"username": "bob@a.example", "password": "guess!!"}
        )
    response = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.99").post(
        "/accounts/login/", {"username": "bob@a.example", "password": PASSWORD}
    )
    assert response.status_code == 429


def test_lockout_records_no_password(people):
    from axes.models import AccessAttempt

    for _ in range(3):
        Client().post("/accounts/login/", {"username": "bob@a.example", "password": "s3cret-guess"})
    for attempt in AccessAttempt.objects.all():
        assert "s3cret-guess" not in (attempt.post_data + attempt.get_data)


# --- 4. sessions ---------------------------------------------------------------------


def test_session_expires_after_two_idle_hours(people):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = browser(people.bob)
        clock.shift(timedelta(hours=1, minutes=50))
        assert client.get("/org-a/staff/").status_code == 200
        clock.shift(timedelta(hours=1, minutes=50))
        assert client.get("/org-a/staff/").status_code == 200, "activity renews the idle limit"
        clock.shift(timedelta(hours=2, minutes=1))
        response = client.get("/org-a/staff/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_session_ends_after_twelve_hours_however_active(people):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = browser(people.bob)
        for _ in range(11):
            clock.shift(timedelta(hours=1))
            assert client.get("/org-a/staff/").status_code == 200
        clock.shift(timedelta(hours=1, minutes=1))
        response = client.get("/org-a/staff/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    assert "Your session has ended after 12 hours" in response.content.decode()


def test_logout_is_post_only(people):
    client = browser(people.bob)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/org-a/staff/").status_code == 200


# --- 7. mass assignment ---------------------------------------------------------------


def test_membership_form_changes_only_the_role(people):
    bob = Membership.objects.get(user=people.bob, organisation=people.org_a)
    browser(people.alice).post(
        f"/org-a/staff/team/{bob.pk}/role/",
        {"role": "chair", "user": people.charlie.pk, "organisation": people.org_b.pk},
    )
    bob.refresh_from_db()
    assert (bob.user_id, bob.organisation_id, bob.role) == (
        people.bob.pk,
        people.org_a.pk,
        Role.CHAIR,
    )


def test_profile_form_ignores_account_fields(people, dns):
    before = snapshot(people.bob)
    browser(people.bob).post(
        "/staff/profile/",
        {
            "label": "phone",
            "url": "ntfys://ntfy.sh/some-topic-xyz",
            "is_superuser": "on",
            "is_staff": "on",
            "email": "evil@example.org",
            "role": "chair",
        },
    )
    assert snapshot(people.bob) == before
    assert Membership.objects.get(user=people.bob, organisation=people.org_a).role == "responder"


def test_member_add_form_cannot_make_a_superuser(people):
    _invite(people, is_superuser="on", is_staff="on")
    browser().get("/")
    client = Client()
    client.post(_invitation_link(), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    user = User.objects.get(email="newbie@a.example")
    assert not user.is_superuser and not user.is_staff
