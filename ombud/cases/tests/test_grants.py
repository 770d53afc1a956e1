"""Giving access to cases with one's own key (ombud.cases.services.grants)."""

# ruff: noqa: F811 - `world` is the access matrix's fixture, imported to be used

import pytest

from conftest import PASSWORD
from ombud.accounts.services import user_create
from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.cases.models import Case, Exclusion, Grant, PendingAccess, Status
from ombud.cases.tests.test_access import MARKER, browser, kept_world, world  # noqa: F401 - fixture
from ombud.orgs.models import Membership, Role

pytestmark = pytest.mark.django_db


def _snapshot(case):
    return (
        sorted(Grant.objects.filter(case=case).values_list("user_id", flat=True)),
        sorted(Exclusion.objects.filter(case=case).values_list("user_id", "reason")),
        AuditEvent.objects.count(),
    )


def _grant_url(case):
    return f"/org-a/staff/cases/{case.number}/grant/"


def test_holder_grants_a_new_member_who_can_then_read_the_case(world):
    response = browser(world.bob).post(
        _grant_url(world.case), {"member": world.frank.pk, "scope": "case"}, follow=True
    )
    assert "Frank now has access to case #1." in response.content.decode()
    assert Grant.objects.filter(case=world.case, user=world.frank).exists()
    event = AuditEvent.objects.filter(type=AuditType.ACCESS_GRANTED).get()
    assert (event.actor_id, event.case_id, event.data) == (
        world.bob.pk,
        world.case.pk,
        {"user": world.frank.pk, "scope": "case"},
    )
    page = browser(world.frank).get(world.case_url)
    assert page.status_code == 200 and MARKER in page.content.decode()


def test_grant_form_shows_who_is_kept_out(world):
    response = browser(world.bob).get(_grant_url(world.case))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Dave (excluded by the reporter)" in html and "Erin (recused)" in html


def test_excluded_member_is_refused_with_a_clear_message(world):
    before = _snapshot(world.case)
    response = browser(world.alice).post(
        _grant_url(world.case), {"member": world.dave.pk, "scope": "case"}
    )
    assert response.status_code == 400
    assert "the reporter excluded them from it" in response.content.decode()
    assert _snapshot(world.case) == before


def test_recused_member_is_granted_again_by_someone_else_which_lifts_the_recusal(world):
    response = browser(world.bob).post(
        _grant_url(world.case), {"member": world.erin.pk, "scope": "case"}, follow=True
    )
    assert "Their recusal from case #1 is lifted." in response.content.decode()
    assert Grant.objects.filter(case=world.case, user=world.erin).exists()
    assert not Exclusion.objects.filter(case=world.case, user=world.erin).exists()
    lifted = AuditEvent.objects.get(type=AuditType.RECUSAL_LIFTED)
    assert (lifted.actor_id, lifted.data) == (world.bob.pk, {"user": world.erin.pk})
    assert browser(world.erin).get(world.case_url).status_code == 200


def test_recused_member_cannot_grant_themselves(world):
    # Erin holds no grant any more, so the case does not exist for her.
    before = _snapshot(world.case)
    response = browser(world.erin).post(
        _grant_url(world.case), {"member": world.erin.pk, "scope": "case"}
    )
    assert response.status_code == 404
    assert _snapshot(world.case) == before


@pytest.mark.parametrize("actor", ["charlie", "dave", "erin", "frank"])
def test_those_without_the_case_cannot_grant(world, actor):
    before = _snapshot(world.case)
    response = browser(getattr(world, actor)).post(
        _grant_url(world.case), {"member": world.frank.pk, "scope": "all"}
    )
    assert response.status_code == 404
    assert _snapshot(world.case) == before


def test_anonymous_is_sent_to_login(world):
    before = _snapshot(world.case)
    response = browser().post(_grant_url(world.case), {"member": world.frank.pk, "scope": "case"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert _snapshot(world.case) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"member": "charlie", "scope": "case"}, "Choose a member of the team"),
        ({"member": "999999", "scope": "case"}, "Choose a member of the team"),
        ({"member": "not-a-number", "scope": "case"}, "Choose a member of the team"),
        ({"member": "frank", "scope": "everything"}, "Select a valid choice"),
        ({"scope": "case"}, "This field is required"),
        ({"member": "bob", "scope": "case"}, "Bob already has access to case #1."),
    ],
)
def test_bad_input_is_400_and_changes_nothing(world, data, message):
    data = {
        k: str(getattr(world, v).pk) if v in ("charlie", "frank", "bob") else v
        for k, v in data.items()
    }
    before = _snapshot(world.case)
    response = browser(world.alice).post(_grant_url(world.case), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert _snapshot(world.case) == before


def test_member_without_a_key_pair_cannot_be_chosen(world):
    from ombud.accounts.models import User

    keyless = User.objects.create(email="keyless@a.example", username="keyless")
    Membership.objects.create(user=keyless, organisation=world.org_a, role=Role.RESPONDER)
    response = browser(world.bob).post(
        _grant_url(world.case), {"member": keyless.pk, "scope": "case"}
    )
    assert response.status_code == 400
    assert not Grant.objects.filter(user=keyless).exists()


def test_mass_assignment_is_ignored(world):
    browser(world.bob).post(
        _grant_url(world.case),
        {"member": world.frank.pk, "scope": "case", "role": "chair", "user": world.bob.pk},
    )
    assert Membership.objects.get(user=world.frank, organisation=world.org_a).role == "responder"
    assert Grant.objects.filter(case=world.case, user=world.frank).exists()


def test_bulk_grants_cover_event_or_everything_held_and_skip_exclusions(world, submit_report):
    # bob holds: #1 (pyconf), #2 (pyconf, frank excluded), #3 (pyconf, closed), #4 (general)
    frank = world.frank
    Grant.objects.filter(user=frank).delete()
    second, _ = submit_report(world.event_a, exclude=[str(frank.pk)])
    assert Exclusion.objects.filter(case=second, user=frank).exists()
    third, _ = submit_report(world.event_a)
    Case.objects.filter(pk=third.pk).update(status=Status.CLOSED)
    general = world.org_a.events.get(slug="general")
    submit_report(general)
    # Frank joined before these reports, so he holds #3 and #4 already: drop them.
    Grant.objects.filter(user=frank).delete()

    response = browser(world.bob).post(
        _grant_url(world.case), {"member": frank.pk, "scope": "event"}, follow=True
    )
    html = response.content.decode()
    assert "Frank now has access to case #1." in html
    assert "Not given access to case #2: the reporter excluded them from it." in html
    assert set(Grant.objects.filter(user=frank).values_list("case__number", flat=True)) == {1}

    response = browser(world.bob).post(
        _grant_url(world.case), {"member": frank.pk, "scope": "all"}, follow=True
    )
    assert set(Grant.objects.filter(user=frank).values_list("case__number", flat=True)) == {
        1,
        3,
        4,
    }
    assert AuditEvent.objects.filter(type=AuditType.ACCESS_GRANTED).count() == 3
    assert not Grant.objects.filter(user=frank, case=second).exists()


def _reset_like(user, organisation):
    """What a password reset leaves: a new key pair, grants gone, pending rows."""
    from ombud.lib import crypto

    cases = [g.case for g in Grant.objects.filter(user=user, case__organisation=organisation)]
    Grant.objects.filter(user=user).delete()
    for case in cases:
        PendingAccess.objects.create(case=case, user=user)
    public, private = crypto.keypair_new()
    box, salt, params = crypto.private_key_lock(private, PASSWORD)
    user.public_key, user.private_key_box, user.key_salt, user.key_params = (
        public,
        box,
        salt,
        params,
    )
    user.save()
    return cases


def test_holder_restores_pending_access_in_one_click(world):
    _reset_like(world.bob, world.org_a)
    assert browser(world.bob).get(world.case_url).status_code == 404

    alice = browser(world.alice)
    page = alice.get("/org-a/staff/access/")
    assert page.status_code == 200
    assert "Bob" in page.content.decode() and "#1" in page.content.decode()
    response = alice.post(
        _grant_url(world.case),
        {"member": world.bob.pk, "scope": "case", "next": "pending"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/org-a/staff/access/"
    assert "Nobody is waiting" in response.content.decode()
    assert not PendingAccess.objects.exists()
    page = browser(world.bob).get(world.case_url)
    assert page.status_code == 200 and MARKER in page.content.decode()


def test_pending_list_shows_only_cases_one_holds(world):
    _reset_like(world.bob, world.org_a)
    html = browser(world.frank).get("/org-a/staff/access/").content.decode()
    assert "Nobody is waiting for access to a case you hold." in html
    assert world.case_url not in html


def test_grantee_from_another_organisation_is_refused_by_the_service(world):
    from ombud.cases.services.grants import access_grant
    from ombud.lib.errors import ServiceError

    charlie = world.charlie
    with pytest.raises(ServiceError, match="not a member of Org A"):
        access_grant(actor=world.bob, private_key=b"x" * 32, grantee=charlie, cases=[world.case])
    assert not Grant.objects.filter(user=charlie).exists()


def test_newcomer_user_create_then_grant(world):
    newcomer = user_create(email="gina@a.example", password=PASSWORD, display_name="Gina")
    Membership.objects.create(user=newcomer, organisation=world.org_a, role=Role.RESPONDER)
    assert browser(newcomer).get(world.case_url).status_code == 404
    browser(world.bob).post(_grant_url(world.case), {"member": newcomer.pk, "scope": "case"})
    assert browser(newcomer).get(world.case_url).status_code == 200
