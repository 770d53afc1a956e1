"""A chair runs the team from the staff UI: adds responders (a new account is
invited by email and sets its own password), changes roles, and can never leave the
organisation without a chair. Nobody else may, and nothing outside the form's
fields moves."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from conftest import PASSWORD, browser
from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.lib.errors import ServiceError
from ombud.orgs.models import Membership, Role
from ombud.orgs.services import member_role_change

User = get_user_model()

TEAM = "/org-a/staff/team/"
ADD = "/org-a/staff/team/add/"
NEW_MEMBER = {"email": "erin@a.example", "display_name": "Erin", "role": "responder"}


def role_url(membership, org_slug="org-a") -> str:
    return f"/{org_slug}/staff/team/{membership.pk}/role/"


def membership(user, organisation) -> Membership:
    return Membership.objects.get(user=user, organisation=organisation)


def memberships_snapshot():
    return sorted(Membership.objects.values_list("pk", "user_id", "organisation_id", "role"))


def flash(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def field_errors(response, name) -> list[str]:
    return list(response.context["form"].errors.get(name, []))


@pytest.fixture
def alice(people):
    return browser(people.alice)


JOIN_PASSWORD = "erin's own chosen passphrase"


def invitation_link(email="erin@a.example") -> str:
    from ombud.notify.models import OutboxMessage
    from ombud.notify.sealing import outbox_open

    (body,) = [
        m["body"]
        for m in (outbox_open(o) for o in OutboxMessage.objects.filter(kind="email"))
        if m["to"] == email
    ]
    return re.search(r"https?://[^/\s]+(/accounts/invitation/\S+/)", body).group(1)


def join(alice, data=None):
    """The chair invites; the invitee follows the emailed link and sets a password."""
    data = data or NEW_MEMBER
    response = alice.post(ADD, data)
    assert response.status_code == 200
    accepted = Client().post(
        invitation_link(data["email"].lower()),
        {"new_password1": JOIN_PASSWORD, "new_password2": JOIN_PASSWORD},
    )
    assert accepted.status_code == 302, accepted.content.decode()[:500]
    return User.objects.get(email=data["email"].lower()), JOIN_PASSWORD


# --- the team page -------------------------------------------------------------------


def test_chair_sees_the_team_with_roles(people, alice):
    response = alice.get(TEAM)
    assert response.status_code == 200
    members = {m.user.email: m.role for m in response.context["members"]}
    assert members == {
        "alice@a.example": Role.CHAIR,
        "bob@a.example": Role.RESPONDER,
        "dave@a.example": Role.RESPONDER,
    }
    html = response.content.decode()
    assert "charlie@b.example" not in html, "another organisation's team is not listed"
    assert f'action="{role_url(membership(people.bob, people.org_a))}"' in html


# --- adding people -------------------------------------------------------------------


def test_chair_invites_a_new_responder_who_sets_their_own_password(people, alice):
    assert alice.get(ADD).status_code == 200

    response = alice.post(ADD, NEW_MEMBER)
    assert response.status_code == 200
    html = response.content.decode()
    assert "An invitation is on its way" in html and "erin@a.example" in html
    assert not User.objects.filter(email="erin@a.example").exists(), "not before they accept"
    invited = AuditEvent.objects.filter(organisation=people.org_a).order_by("seq").last()
    assert invited.type == AuditType.MEMBER_INVITED
    assert invited.actor_id == people.alice.pk
    assert "invited" in alice.get(TEAM).content.decode()

    accepted = Client().post(
        invitation_link(), {"new_password1": JOIN_PASSWORD, "new_password2": JOIN_PASSWORD}
    )
    assert accepted.status_code == 302
    erin = User.objects.get(email="erin@a.example")
    assert erin.display_name == "Erin"
    assert erin.has_keys, "a new responder gets a key pair so reports can be sealed for them"
    assert erin.check_password(JOIN_PASSWORD)
    assert membership(erin, people.org_a).role == Role.RESPONDER
    assert not erin.is_staff and not erin.is_superuser

    added = AuditEvent.objects.filter(organisation=people.org_a).order_by("seq").last()
    assert added.type == AuditType.INVITATION_ACCEPTED
    assert added.actor_id == erin.pk
    assert added.data["user"] == erin.pk and added.data["role"] == "responder"
    assert JOIN_PASSWORD not in str(added.data)


def test_new_responder_logs_in_and_sees_no_earlier_case(people, alice, submit_report):
    case, _ = submit_report(people.event_a, description="Before Erin joined.")

    erin, password = join(alice)
    as_erin = browser(erin, password)

    dashboard = as_erin.get("/org-a/staff/")
    assert dashboard.status_code == 200
    assert list(dashboard.context["cases"]) == []
    assert dashboard.context["total"] == 0
    assert as_erin.get(f"/org-a/staff/cases/{case.number}/").status_code == 404
    assert as_erin.get(f"/org-a/staff/cases/{case.number}/recuse/").status_code == 404
    assert "Before Erin joined." not in dashboard.content.decode()
    # a responder, not a chair
    assert as_erin.get(TEAM).status_code == 403
    # the staff entry point takes them to their organisation
    response = as_erin.get("/staff/")
    assert response.status_code == 302
    assert response.url == "/org-a/staff/"


def test_new_member_can_be_excluded_on_the_report_form(people, alice, submit_report):
    erin, _ = join(alice)

    page = Client().get("/org-a/pyconf/report/")
    assert (str(erin.pk), "Erin") in page.context["form"].fields["exclude"].choices
    assert "Erin" in page.content.decode()

    # and a report that excludes them is never sealed for them
    case, _ = submit_report(people.event_a, exclude=[str(erin.pk)])
    assert not case.grants.filter(user=erin).exists()
    assert case.grants.filter(user=people.bob).exists()


def test_new_member_is_sealed_into_reports_filed_after_they_joined(people, alice, submit_report):
    erin, password = join(alice)
    case, _ = submit_report(people.event_a, description="After Erin joined.")

    as_erin = browser(erin, password)
    response = as_erin.get(f"/org-a/staff/cases/{case.number}/")
    assert response.status_code == 200
    assert "After Erin joined." in response.content.decode()


def test_chair_can_add_a_chair(people, alice):
    erin, _ = join(alice, {**NEW_MEMBER, "role": "chair"})
    assert membership(erin, people.org_a).role == Role.CHAIR


def _answer(response, email: str) -> str:
    """The chair's page with the address, the link's expiry time and the
    (masked, so each time different) CSRF token taken out."""
    html = response.content.decode().replace(email, "ADDRESS")
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", html)
    return re.sub(r"\d+ \w+ \d{4}, \d\d:\d\d", "DATE", html)


def test_the_chair_gets_the_same_answer_whether_the_address_has_an_account(people, alice):
    known = alice.post(ADD, {"email": "charlie@b.example", "display_name": "C", "role": "chair"})
    unknown = alice.post(ADD, {"email": "nobody@b.example", "display_name": "C", "role": "chair"})
    assert known.status_code == unknown.status_code == 200
    assert _answer(known, "charlie@b.example") == _answer(unknown, "nobody@b.example")
    assert "An invitation is on its way" in known.content.decode()
    team = alice.get(TEAM).content.decode()
    assert "charlie@b.example" in team and "nobody@b.example" in team
    assert not Membership.objects.filter(user=people.charlie, organisation=people.org_a).exists()


def test_an_existing_account_joins_another_organisation_only_by_accepting(people, alice):
    response = alice.post(
        ADD, {"email": "Charlie@B.example", "display_name": "Someone else", "role": "responder"}
    )
    assert response.status_code == 200
    assert not Membership.objects.filter(user=people.charlie, organisation=people.org_a).exists()
    assert browser(people.charlie).get("/org-a/staff/").status_code == 404
    link = invitation_link("charlie@b.example")
    public_key = bytes(people.charlie.public_key)

    # Without logging in: no password form, nothing to create. (The first
    # request moves the token out of the address bar.)
    page = Client().get(link, follow=True)
    assert page.status_code == 200
    assert "Log in as charlie@b.example" in page.content.decode()
    assert "new_password1" not in page.content.decode()
    posted = Client().post(link, {"new_password1": "x" * 20, "new_password2": "x" * 20})
    assert posted.status_code == 403
    # Someone else's account cannot take the invitation.
    other = browser(people.bob).post(link)
    assert other.status_code == 403
    assert "This invitation is for charlie@b.example" in other.content.decode()
    assert not Membership.objects.filter(user=people.charlie, organisation=people.org_a).exists()

    as_charlie = browser(people.charlie)
    page = as_charlie.get(link, follow=True)
    assert page.status_code == 200
    assert "Join the team" in page.content.decode()
    joined = as_charlie.post(link)
    assert joined.status_code == 302
    assert joined.url == "/org-a/staff/"

    people.charlie.refresh_from_db()
    assert people.charlie.display_name == "Charlie", "a chair cannot rename someone's account"
    assert people.charlie.check_password(PASSWORD), "their password is untouched"
    assert bytes(people.charlie.public_key) == public_key, "and their key"
    assert membership(people.charlie, people.org_a).role == Role.RESPONDER
    assert membership(people.charlie, people.org_b).role == Role.CHAIR
    accepted = AuditEvent.objects.filter(organisation=people.org_a).order_by("seq").last()
    assert (accepted.type, accepted.actor_id) == (AuditType.INVITATION_ACCEPTED, people.charlie.pk)
    assert as_charlie.get("/org-a/staff/").status_code == 200
    assert as_charlie.get("/org-b/staff/").status_code == 200
    assert as_charlie.get(TEAM).status_code == 403, "a responder in org A"
    assert as_charlie.get(link, follow=True).status_code == 404, "the link works once"


@pytest.mark.parametrize("email", ["bob@a.example", "BOB@A.EXAMPLE", "alice@a.example"])
def test_adding_someone_already_on_the_team_is_a_clear_error(people, alice, email):
    before = memberships_snapshot()
    audit_before = AuditEvent.objects.count()
    response = alice.post(ADD, {"email": email, "display_name": "Again", "role": "chair"})
    assert response.status_code == 400
    assert field_errors(response, "email") == ["This person is already on the team."]
    assert "This person is already on the team." in response.content.decode()
    assert "password" not in response.context or not response.context.get("password")
    assert memberships_snapshot() == before
    assert AuditEvent.objects.count() == audit_before


@pytest.mark.parametrize("email", ["not-an-email", "erin@", "", "erin @a.example"])
def test_invalid_email_is_a_clear_error(people, alice, email):
    users_before = User.objects.count()
    response = alice.post(ADD, {**NEW_MEMBER, "email": email})
    assert response.status_code == 400
    assert field_errors(response, "email")
    assert User.objects.count() == users_before


def test_overlong_email_is_a_clear_error_not_a_crash(people, alice):
    email = "e" * 190 + "@a.example"
    response = alice.post(ADD, {**NEW_MEMBER, "email": email})
    assert response.status_code == 400
    assert field_errors(response, "email")
    assert not User.objects.filter(email=email).exists()


def test_missing_name_is_a_clear_error(people, alice):
    response = alice.post(ADD, {**NEW_MEMBER, "display_name": ""})
    assert response.status_code == 400
    assert field_errors(response, "display_name")
    assert not User.objects.filter(email="erin@a.example").exists()


@pytest.mark.parametrize("role", ["owner", "superuser", "", "CHAIR"])
def test_adding_with_a_role_outside_the_choices_is_refused(people, alice, role):
    response = alice.post(ADD, {**NEW_MEMBER, "role": role})
    assert response.status_code == 400
    assert field_errors(response, "role")
    assert not User.objects.filter(email="erin@a.example").exists()


def test_adding_ignores_fields_outside_the_form(people, alice):
    erin, _ = join(
        alice,
        {
            **NEW_MEMBER,
            "organisation": str(people.org_b.pk),
            "is_superuser": "on",
            "is_staff": "on",
            "password": "chosen-by-the-attacker",
        },
    )
    assert not erin.is_superuser and not erin.is_staff
    assert not erin.check_password("chosen-by-the-attacker")
    assert list(erin.memberships.values_list("organisation_id", flat=True)) == [people.org_a.pk]


# --- roles ---------------------------------------------------------------------------


def test_chair_promotes_a_responder_and_it_is_audited(people, alice):
    bob = membership(people.bob, people.org_a)
    response = alice.post(role_url(bob), {"role": "chair"}, follow=True)
    assert response.redirect_chain == [(TEAM, 302)]
    assert "Bob is now chair." in flash(response)

    bob.refresh_from_db()
    assert bob.role == Role.CHAIR
    changed = AuditEvent.objects.filter(organisation=people.org_a).order_by("seq").last()
    assert changed.type == AuditType.MEMBER_ROLE_CHANGED
    assert changed.actor_id == people.alice.pk
    assert changed.data == {"user": people.bob.pk, "role": "chair"}

    # from the next request on, Bob may run the team
    assert browser(people.bob).get(TEAM).status_code == 200


def test_a_chair_can_step_down_when_another_chair_remains(people, alice):
    alice.post(role_url(membership(people.bob, people.org_a)), {"role": "chair"})
    response = alice.post(role_url(membership(people.alice, people.org_a)), {"role": "responder"})
    assert response.status_code == 302
    assert membership(people.alice, people.org_a).role == Role.RESPONDER
    assert alice.get(TEAM).status_code == 403, "Alice is a responder now"


def test_demoting_the_last_chair_is_refused_and_nothing_changes(people, alice):
    before = memberships_snapshot()
    audit_before = AuditEvent.objects.count()
    response = alice.post(
        role_url(membership(people.alice, people.org_a)), {"role": "responder"}, follow=True
    )
    assert response.redirect_chain == [(TEAM, 302)]
    assert "The organisation needs at least one chair." in flash(response)
    assert "The organisation needs at least one chair." in response.content.decode()
    assert memberships_snapshot() == before
    assert membership(people.alice, people.org_a).role == Role.CHAIR
    assert AuditEvent.objects.count() == audit_before
    assert alice.get(TEAM).status_code == 200, "Alice still chairs"


def test_the_service_judges_the_last_chair_by_the_stored_role(people):
    """A bound ModelForm sets the new role on its instance before the service
    runs; the last-chair check must not be fooled by that."""
    chair = membership(people.alice, people.org_a)
    chair.role = Role.RESPONDER  # as MemberRoleForm.is_valid() leaves it
    with pytest.raises(ServiceError, match="at least one chair"):
        member_role_change(actor=people.alice, membership=chair, role=Role.RESPONDER)
    assert membership(people.alice, people.org_a).role == Role.CHAIR


def test_setting_the_same_role_again_is_harmless(people, alice):
    response = alice.post(role_url(membership(people.alice, people.org_a)), {"role": "chair"})
    assert response.status_code == 302
    assert membership(people.alice, people.org_a).role == Role.CHAIR


@pytest.mark.parametrize("data", [{"role": "owner"}, {"role": ""}, {"role": "Chair"}, {}])
def test_a_role_outside_the_choices_is_refused(people, alice, data):
    bob = membership(people.bob, people.org_a)
    before = memberships_snapshot()
    audit_before = AuditEvent.objects.count()
    response = alice.post(role_url(bob), data, follow=True)
    assert response.redirect_chain == [(TEAM, 302)]
    assert "Choose a valid role." in flash(response)
    assert memberships_snapshot() == before
    assert AuditEvent.objects.count() == audit_before


def test_role_change_ignores_fields_outside_the_form(people, alice):
    bob = membership(people.bob, people.org_a)
    org_b_before = sorted(
        Membership.objects.filter(organisation=people.org_b).values_list("pk", "user_id", "role")
    )
    response = alice.post(
        role_url(bob),
        {
            "role": "chair",
            "user": str(people.charlie.pk),
            "organisation": str(people.org_b.pk),
            "is_superuser": "on",
            "is_staff": "on",
            "id": "999999",
            "email": "attacker@example.org",
        },
    )
    assert response.status_code == 302

    bob.refresh_from_db()
    assert (bob.user_id, bob.organisation_id, bob.role) == (
        people.bob.pk,
        people.org_a.pk,
        Role.CHAIR,
    )
    people.bob.refresh_from_db()
    people.charlie.refresh_from_db()
    for user in (people.bob, people.charlie):
        assert not user.is_superuser and not user.is_staff
    assert people.bob.email == "bob@a.example"
    assert not Membership.objects.filter(user=people.charlie, organisation=people.org_a).exists()
    assert not Membership.objects.filter(pk=999999).exists()
    org_b_after = sorted(
        Membership.objects.filter(organisation=people.org_b).values_list("pk", "user_id", "role")
    )
    assert org_b_after == org_b_before


def test_role_endpoint_takes_only_post(people, alice):
    assert alice.get(role_url(membership(people.bob, people.org_a))).status_code == 405


def test_unknown_membership_is_404(people, alice):
    assert alice.post("/org-a/staff/team/999999/role/", {"role": "chair"}).status_code == 404


# --- who may not -----------------------------------------------------------------------

TEAM_PAGES = [TEAM, ADD]


@pytest.mark.parametrize("path", TEAM_PAGES)
def test_responder_gets_403_on_team_pages(people, path):
    assert browser(people.bob).get(path).status_code == 403


def test_responder_cannot_add_or_change_roles(people):
    bob = browser(people.bob)
    before = memberships_snapshot()
    audit_before = AuditEvent.objects.count()
    assert bob.post(ADD, NEW_MEMBER).status_code == 403
    assert (
        bob.post(role_url(membership(people.bob, people.org_a)), {"role": "chair"}).status_code
        == 403
    )
    assert (
        bob.post(
            role_url(membership(people.alice, people.org_a)), {"role": "responder"}
        ).status_code
        == 403
    )
    assert memberships_snapshot() == before
    assert not User.objects.filter(email="erin@a.example").exists()
    assert AuditEvent.objects.count() == audit_before


@pytest.mark.parametrize("path", TEAM_PAGES)
def test_other_organisations_chair_gets_404_on_team_pages(people, path):
    assert browser(people.charlie).get(path).status_code == 404


def test_other_organisations_chair_cannot_change_memberships(people):
    charlie = browser(people.charlie)
    bob = membership(people.bob, people.org_a)
    alice = membership(people.alice, people.org_a)
    before = memberships_snapshot()
    audit_before = AuditEvent.objects.count()

    assert charlie.post(ADD, NEW_MEMBER).status_code == 404
    assert charlie.post(role_url(bob), {"role": "chair"}).status_code == 404
    # through their own organisation's URL, with org A's membership id
    assert charlie.post(role_url(bob, "org-b"), {"role": "chair"}).status_code == 404
    assert charlie.post(role_url(alice, "org-b"), {"role": "responder"}).status_code == 404

    assert memberships_snapshot() == before
    assert not User.objects.filter(email="erin@a.example").exists()
    assert AuditEvent.objects.count() == audit_before


def test_chair_cannot_change_another_organisations_membership_through_their_own_url(people, alice):
    charlie = membership(people.charlie, people.org_b)
    assert alice.post(role_url(charlie, "org-a"), {"role": "responder"}).status_code == 404
    assert alice.post(role_url(charlie, "org-b"), {"role": "responder"}).status_code == 404
    assert membership(people.charlie, people.org_b).role == Role.CHAIR


@pytest.mark.parametrize("path", TEAM_PAGES)
def test_anonymous_is_sent_to_login(people, path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")


def test_anonymous_posts_change_nothing(people):
    before = memberships_snapshot()
    anonymous = Client()
    response = anonymous.post(ADD, NEW_MEMBER)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    response = anonymous.post(role_url(membership(people.bob, people.org_a)), {"role": "chair"})
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert memberships_snapshot() == before
    assert not User.objects.filter(email="erin@a.example").exists()


def test_invitation_links_look_random(people, alice):
    alice.post(ADD, NEW_MEMBER)
    alice.post(ADD, {**NEW_MEMBER, "email": "frank@a.example"})
    first, second = invitation_link(), invitation_link("frank@a.example")
    assert first != second
    assert re.fullmatch(r"/accounts/invitation/[A-Za-z0-9_-]{43}/", first)


def test_the_invitation_token_leaves_the_address_bar_at_the_first_request(people, alice):
    """Issue 12, item 16: the emailed link's first request moves its token into
    a cookie and redirects to an address without it, as Django's password
    reset does; the form and its POST carry no token in the URL."""
    alice.post(ADD, NEW_MEMBER)
    link = invitation_link()
    token = link.rstrip("/").rsplit("/", 1)[1]
    client = Client()

    response = client.get(link)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/invitation/"
    cookie = response.cookies["ombud_invitation"]
    assert cookie["httponly"] and cookie["path"] == "/accounts/invitation/"
    assert cookie["samesite"] == "Lax"
    page = client.get("/accounts/invitation/")
    assert page.status_code == 200 and "erin@a.example" in page.content.decode()
    assert token not in page.content.decode()
    accepted = client.post(
        "/accounts/invitation/", {"new_password1": JOIN_PASSWORD, "new_password2": JOIN_PASSWORD}
    )
    assert accepted.status_code == 302
    assert User.objects.get(email="erin@a.example").check_password(JOIN_PASSWORD)
    assert accepted.cookies["ombud_invitation"].value == ""  # forgotten once used
    # Used: the link and the token-free page both say so.
    assert Client().get(link).status_code == 404
    assert client.get("/accounts/invitation/").status_code == 404


def test_an_invalid_invitation_link_sets_no_cookie(people):
    response = Client().get("/accounts/invitation/bm90LWEtdG9rZW4/")
    assert response.status_code == 404
    assert "ombud_invitation" not in response.cookies
    assert Client().get("/accounts/invitation/").status_code == 404
