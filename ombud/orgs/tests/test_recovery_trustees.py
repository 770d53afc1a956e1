"""Issue 12, item 1: nobody alone opens a report the reporter kept from them.

The recovery kit is split among trustees (k of n); every use of it on a case is
shown to whoever holds the case and to the reporter; it never gives access to
someone the reporter excluded or who recused; a single-person kit from before
is re-issued as shares without losing a case."""

# ruff: noqa: F811 - `world` is the access matrix's fixture, imported to be used

from html import unescape
from io import StringIO
from itertools import combinations

import pytest
from django.core.management import call_command
from django.utils import timezone
from django.utils.formats import date_format

from conftest import PASSWORD, browser
from ombud.accounts.services import user_create
from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.cases.models import Case, Exclusion, Grant
from ombud.cases.services import recovery
from ombud.cases.tests.test_access import kept_world, world  # noqa: F401 - fixture
from ombud.lib import crypto
from ombud.orgs.models import Membership, Organisation, RecoveryTrustee, Role
from ombud.orgs.tests.test_team import JOIN_PASSWORD, join

pytestmark = pytest.mark.django_db

RESTORE = "/org-a/staff/recovery/restore/"
ROTATE = "/org-a/staff/recovery/rotate/"
SECRET = "ZQX-only-the-team-minus-alice"


def alone(people):
    """What the chair holds on her own: her share (before this change, the kit)."""
    return people.shares_a["alice"]


def test_a_chair_the_reporter_excluded_cannot_use_the_kit_alone_for_a_second_account(
    people, submit_report
):
    # The reproduction from the issue: the reporter excludes the chair; she
    # invites a second account of her own and gives it access with the kit.
    case, _ = submit_report(people.event_a, description=SECRET, exclude=[str(people.alice.pk)])
    alice = browser(people.alice)
    second, _ = join(
        alice, {"email": "alice.two@elsewhere.example", "display_name": "Al", "role": "responder"}
    )
    response = alice.post(
        RESTORE,
        {
            "form": "grant",
            "kit": alone(people),
            "member": second.pk,
            "scope": "case",
            "number": case.number,
        },
    )
    assert response.status_code == 400
    assert "needs the shares of 2 trustees" in response.content.decode()
    assert not Grant.objects.filter(user=second).exists()
    page = browser(second, password=JOIN_PASSWORD).get(f"/org-a/staff/cases/{case.number}/")
    assert page.status_code == 404 and SECRET not in page.content.decode()


# --- the kit refuses the excluded and the recused --------------------------------------


def test_the_kit_refuses_a_member_who_recused_and_says_why(world):
    before = _grants()
    response = browser(world.alice).post(
        RESTORE,
        {
            "form": "grant",
            "kit": world.kit_a,
            "member": world.erin.pk,
            "scope": "case",
            "number": 1,
        },
    )
    assert response.status_code == 400
    assert "Erin recused themselves from case #1" in unescape(response.content.decode())
    assert _grants() == before
    assert Exclusion.objects.filter(user=world.erin, reason=Exclusion.Reason.RECUSED).exists()
    response = browser(world.alice).post(
        RESTORE, {"form": "grant", "kit": world.kit_a, "member": world.erin.pk, "scope": "all"}
    )
    assert response.status_code == 400
    assert "Not given access to case #1: they recused themselves from it." in unescape(
        response.content.decode()
    )
    assert _grants() == before


def _grants():
    return sorted(Grant.objects.values_list("case_id", "user_id"))


# --- every use is shown ----------------------------------------------------------------


def test_every_use_of_the_kit_on_a_case_is_shown_to_its_holders_and_the_reporter(
    people, submit_report, client
):
    case, receipt = submit_report(people.event_a, description=SECRET)
    frank = user_create(email="frank@a.example", password=PASSWORD, display_name="Frank")
    Membership.objects.create(user=frank, organisation=people.org_a, role=Role.RESPONDER)
    response = browser(people.alice).post(
        RESTORE,
        {
            "form": "grant",
            "kit": together(people),
            "member": frank.pk,
            "scope": "case",
            "number": case.number,
        },
    )
    assert response.status_code == 302
    used = "Access given to Frank by the team's recovery procedure"
    for holder in (people.bob, people.dave, frank):
        page = unescape(browser(holder).get(f"/org-a/staff/cases/{case.number}/").content.decode())
        assert used in page, holder
    assert "shares of Alice and Bob" in page

    client.post("/org-a/report/status/", {"receipt": receipt})
    portal = unescape(client.get("/org-a/report/status/case/").content.decode())
    day = date_format(timezone.localdate(), "j M Y")
    assert (
        f"On {day}, access to your report was given to Frank by the team's recovery procedure"
        in portal
    )
    event = AuditEvent.objects.get(type=AuditType.ACCESS_RESTORED_WITH_KIT)
    assert event.actor_id == people.alice.pk
    assert event.data == {
        "user": frank.pk,
        "scope": "case",
        "shares": [1, 2],
        "trustees": [people.alice.pk, people.bob.pk],
    }


def together(people):
    """Alice's and Bob's shares, entered together."""
    return people.kit_a


# --- the report form tells the truth ---------------------------------------------------


def test_the_report_form_tells_the_exact_truth_about_excluding(client, people, submit_report):
    html = unescape(client.get(people.event_a.get_report_url()).content.decode())
    assert "They get no key to your report and are not notified about it." in html
    assert "2 of the team's 3 trustees acting together" in html
    assert "if it is ever used on your report, your report's page says so" in html
    assert "it never gives access to anyone you exclude" in html
    response = client.post(
        people.event_a.get_report_url(),
        {"description": "x", "consent_public": "no", "exclude": [str(people.dave.pk)]},
    )
    receipt_page = unescape(response.content.decode())
    assert "The responders you excluded get no key to it and are not notified." in receipt_page


# --- a single-person kit from before -----------------------------------------------------


def make_legacy(people):
    """Org A as it was before this change: one kit, held by the chair, and
    no trustees. Returns the kit's text."""
    public_key, private_key = crypto.keypair_new()
    Organisation.objects.filter(pk=people.org_a.pk).update(
        recovery_public_key=public_key, recovery_threshold=None
    )
    RecoveryTrustee.objects.filter(organisation=people.org_a).delete()
    return crypto.recovery_kit_encode(people.org_a.pk, private_key)


def test_a_single_person_kit_is_flagged_until_reissued_as_shares_and_no_case_is_lost(
    people, submit_report
):
    legacy = make_legacy(people)
    cases = [submit_report(people.event_a, description=f"{SECRET} {i}")[0] for i in range(3)]
    alice = browser(people.alice)
    warning = "can be used by one person alone"
    for url in ("/org-a/staff/", "/org-a/staff/team/", f"/org-a/staff/cases/{cases[0].number}/"):
        assert warning in alice.get(url).content.decode(), url
    assert warning not in browser(people.bob).get("/org-a/staff/").content.decode()
    # Until it is re-issued the old kit keeps working (nothing is locked out).
    org = Organisation.objects.get(pk=people.org_a.pk)
    assert recovery.kit_private_key(organisation=org, kit_text=legacy).shares == ()

    response = alice.post(
        ROTATE,
        {
            "kit": legacy,
            "trustees": [people.alice.pk, people.bob.pk, people.dave.pk],
            "threshold": 2,
        },
    )
    assert response.status_code == 200
    shares = {s.trustee: s.text for s in response.context["shares"]}
    assert set(shares) == {people.alice, people.bob, people.dave}
    html = response.content.decode()
    assert all(text in html for text in shares.values())
    assert warning not in alice.get("/org-a/staff/").content.decode()

    org = Organisation.objects.get(pk=people.org_a.pk)
    for pair in combinations(shares.values(), 2):
        key = recovery.kit_private_key(organisation=org, kit_text="\n".join(pair)).private_key
        for case in Case.objects.filter(organisation=org):
            crypto.data_key_unseal(key, case.recovery_wrap)
    assert Case.objects.filter(organisation=org).count() == 3
    response = alice.post(
        RESTORE,
        {
            "form": "grant",
            "kit": legacy,
            "member": people.bob.pk,
            "scope": "all",
        },
    )
    assert response.status_code == 400
    assert "single-person recovery kit from before the kit was split" in response.content.decode()


# --- trustees, k, a team of one, the printed shares ---------------------------------------


def test_a_team_of_one_has_a_1_of_1_kit_and_the_pages_say_so_plainly(people):
    charlie = browser(people.charlie)
    for url in ("/org-b/staff/recovery/restore/", "/org-b/staff/recovery/rotate/"):
        html = unescape(charlie.get(url).content.decode())
        assert "1 of 1" in html and "one person can use it alone" in html, url
    assert "can be used by one person alone" not in charlie.get("/org-b/staff/").content.decode()
    # The team grows: now the chair is told to re-issue.
    Membership.objects.create(user=people.bob, organisation=people.org_b)
    html = charlie.get("/org-b/staff/").content.decode()
    assert "can be used by one person alone, and the team now has more members" in html


@pytest.mark.parametrize(
    ("trustees", "threshold", "message"),
    [
        (["alice"], 1, "name at least two trustees"),
        (["alice", "bob", "dave"], 1, "must be between 2 and 3"),
        (["alice", "bob"], 3, "must be between 2 and 2"),
        (["alice", "charlie"], 2, "Select a valid choice"),
    ],
)
def test_no_one_person_can_be_given_the_kit_alone(people, trustees, threshold, message):
    before = (
        bytes(Organisation.objects.get(pk=people.org_a.pk).recovery_public_key),
        sorted(RecoveryTrustee.objects.values_list("organisation_id", "user_id", "index")),
    )
    response = browser(people.alice).post(
        ROTATE,
        {
            "kit": people.kit_a,
            "trustees": [getattr(people, name).pk for name in trustees],
            "threshold": threshold,
        },
    )
    assert response.status_code == 400
    assert message in unescape(response.content.decode())
    org = Organisation.objects.get(pk=people.org_a.pk)
    assert org.recovery_rotation_salt is None
    assert before == (
        bytes(org.recovery_public_key),
        sorted(RecoveryTrustee.objects.values_list("organisation_id", "user_id", "index")),
    )


def test_the_chair_is_told_when_a_trustee_left_the_team(people):
    Membership.objects.filter(user=people.dave, organisation=people.org_a).delete()
    html = browser(people.alice).get("/org-a/staff/").content.decode()
    assert "Dave holds share 3 of the recovery kit but is no longer on the team" in html


def _shares_printed(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if "OMBUD-SHARE-1" in line]


def test_demo_setup_prints_three_shares_any_two_of_which_open_the_kit(db):
    out = StringIO()
    call_command("demo_setup", stdout=out)
    printed = _shares_printed(out.getvalue())
    assert len(printed) == 3 and "split 2 of 3" in out.getvalue()
    org = Organisation.objects.get(slug="demo")
    assert [t.user.email for t in RecoveryTrustee.objects.filter(organisation=org)] == [
        "chair@demo.example",
        "riley@demo.example",
        "sam@demo.example",
    ]
    for pair in combinations(printed, 2):
        recovery.kit_private_key(organisation=org, kit_text="\n".join(pair))
    with pytest.raises(crypto.RecoveryKitError, match="needs the shares of 2 trustees"):
        recovery.kit_private_key(organisation=org, kit_text=printed[0])


def test_create_organisation_prints_the_share_of_a_team_of_one_or_the_shares_of_a_team(db):
    out = StringIO()
    call_command(
        "create_organisation", name="Solo", slug="solo", chair_email="solo@x.example", stdout=out
    )
    (share,) = _shares_printed(out.getvalue())
    assert "1 of 1" in out.getvalue()
    recovery.kit_private_key(organisation=Organisation.objects.get(slug="solo"), kit_text=share)

    for email in ("r1@x.example", "r2@x.example"):
        user_create(email=email, password=PASSWORD)
    out = StringIO()
    call_command(
        "create_organisation",
        name="Team",
        slug="team",
        chair_email="solo@x.example",
        responder=["r1@x.example", "r2@x.example"],
        stdout=out,
    )
    assert len(_shares_printed(out.getvalue())) == 3 and "split 2 of 3" in out.getvalue()
