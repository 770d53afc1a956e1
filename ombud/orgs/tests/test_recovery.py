"""The chair's recovery kit: restoring access, printing a share again, re-issuing
it (rotating the recovery key). Org A's kit is 2 of 3 (conftest: `kit_a` is
alice's and bob's shares entered together)."""

# ruff: noqa: F811 - `world` is the access matrix's fixture, imported to be used

import logging

import pytest
from django.apps import apps

from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.cases.models import Case, Grant, PendingAccess
from ombud.cases.services import recovery, rotation
from ombud.cases.tests.test_access import MARKER, browser, kept_world, world  # noqa: F401 - fixture
from ombud.lib import crypto
from ombud.orgs.models import Organisation

pytestmark = pytest.mark.django_db

RESTORE = "/org-a/staff/recovery/restore/"
KIT = "/org-a/staff/recovery/kit/"
ROTATE = "/org-a/staff/recovery/rotate/"


def _nobody_can_open(world):
    """Everyone with access left or lost their key: only the kit opens case 1."""
    Grant.objects.filter(case=world.case).delete()
    PendingAccess.objects.create(case=world.case, user=world.bob)


def _state():
    return (
        sorted(Grant.objects.values_list("case_id", "user_id")),
        sorted(PendingAccess.objects.values_list("case_id", "user_id")),
        AuditEvent.objects.count(),
        bytes(Organisation.objects.get(slug="org-a").recovery_public_key),
    )


def _body(share: str) -> str:
    """A share's base32 groups, after its five header words."""
    return share.split(" ", 5)[5]


def _bad_kits(world):
    alice, bob = world.shares_a["alice"], world.shares_a["bob"]
    body = _body(bob)
    typo_char = "A" if body[0] != "A" else "B"
    return {
        "another organisation's": (world.kit_b, "Share 1 belongs to another organisation"),
        "malformed": ("hello there", "not a share of an Ombud recovery kit"),
        "truncated": (world.kit_a[:-6], "Share 2 is incomplete"),
        "typo": (
            alice + "\n" + bob.replace(body, typo_char + body[1:]),
            "Share 2 has a typo: its checksum does not match",
        ),
        "foreign characters": (world.kit_a[:-1] + "!", "characters that do not belong"),
        "empty": ("", "This field is required"),
        "huge": ("A" * 5000, "far too long"),
        "one share alone": (alice, "needs the shares of 2 trustees, entered together"),
        "the same share twice": (alice + "\n" + alice, "Share 1 was entered twice"),
        "a single-person kit": (
            crypto.recovery_kit_encode(world.org_a.pk, bytes(32)),
            "single-person recovery kit from before the kit was split",
        ),
    }


def test_chair_restores_pending_access_to_a_case_nobody_can_open(world):
    _nobody_can_open(world)
    alice = browser(world.alice)
    page = alice.get(RESTORE)
    assert page.status_code == 200 and "Bob — case #1" in page.content.decode()
    pending = PendingAccess.objects.get()
    response = alice.post(
        RESTORE, {"form": "pending", "kit": world.kit_a, "pending": [pending.pk]}, follow=True
    )
    assert "Bob now has access to case #1." in response.content.decode()
    assert not PendingAccess.objects.exists()
    event = AuditEvent.objects.get(type=AuditType.ACCESS_RESTORED_WITH_KIT)
    assert (event.actor_id, event.data) == (
        world.alice.pk,
        {
            "user": world.bob.pk,
            "scope": "pending",
            "shares": [1, 2],
            "trustees": [world.alice.pk, world.bob.pk],
        },
    )
    page = browser(world.bob).get(world.case_url)
    assert page.status_code == 200 and MARKER in page.content.decode()


def test_chair_grants_any_member_every_case_with_the_kit(world, submit_report):
    submit_report(world.event_a, exclude=[str(world.frank.pk)])
    Grant.objects.filter(user=world.frank).delete()
    response = browser(world.alice).post(
        RESTORE,
        {"form": "grant", "kit": world.kit_a, "member": world.frank.pk, "scope": "all"},
        follow=True,
    )
    html = response.content.decode()
    assert "Frank now has access to case #1." in html
    assert "Not given access to case #2: the reporter excluded them from it." in html
    assert list(Grant.objects.filter(user=world.frank).values_list("case__number", flat=True)) == [
        1
    ]


def test_kit_grant_to_an_excluded_member_is_refused(world):
    before = _state()
    response = browser(world.alice).post(
        RESTORE,
        {
            "form": "grant",
            "kit": world.kit_a,
            "member": world.dave.pk,
            "scope": "case",
            "number": 1,
        },
    )
    assert response.status_code == 400
    assert "the reporter excluded them from it" in response.content.decode()
    assert _state() == before


def test_kit_never_lifts_a_recusal_not_for_someone_else_nor_for_the_chair_herself(world):
    # Issue 12: the kit refuses whoever recused (before, it lifted someone
    # else's recusal); only a responder who holds the case can.
    alice = browser(world.alice)
    before = _state()
    response = alice.post(
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
    assert "recovery kit never gives them access again" in response.content.decode()
    assert not AuditEvent.objects.filter(type=AuditType.RECUSAL_LIFTED).exists()
    assert _state() == before

    alice.post(world.recuse_url)
    before = _state()
    response = alice.post(
        RESTORE,
        {
            "form": "grant",
            "kit": world.kit_a,
            "member": world.alice.pk,
            "scope": "case",
            "number": 1,
        },
    )
    assert response.status_code == 400
    assert "only another responder can give you access again" in response.content.decode()
    assert _state() == before


BAD_KITS = [
    "another organisation's",
    "malformed",
    "truncated",
    "typo",
    "foreign characters",
    "empty",
    "huge",
    "one share alone",
    "the same share twice",
    "a single-person kit",
]


@pytest.mark.parametrize("which", BAD_KITS)
def test_bad_kits_are_refused_everywhere_and_change_nothing(world, which):
    _nobody_can_open(world)
    kit, message = _bad_kits(world)[which]
    pending = PendingAccess.objects.get()
    alice = browser(world.alice)
    before = _state()
    for url, data in [
        (RESTORE, {"form": "pending", "kit": kit, "pending": [pending.pk]}),
        (RESTORE, {"form": "grant", "kit": kit, "member": world.frank.pk, "scope": "all"}),
        (KIT, {"kit": kit, "share": 3}),
        (ROTATE, {"kit": kit, "trustees": [world.alice.pk, world.bob.pk], "threshold": 2}),
    ]:
        response = alice.post(url, data)
        assert response.status_code == 400, url
        assert message in response.content.decode(), url
        assert _state() == before, url
        assert Organisation.objects.get(pk=world.org_a.pk).recovery_rotation_salt is None


@pytest.mark.parametrize("actor", ["bob", "dave", "frank"])
def test_responders_cannot_use_the_kit_pages(world, actor):
    client = browser(getattr(world, actor))
    before = _state()
    for url in (RESTORE, KIT, ROTATE):
        assert client.get(url).status_code == 403
        assert (
            client.post(url, {"kit": world.kit_a, "form": "grant", "scope": "all"}).status_code
            == 403
        )
    assert _state() == before


def test_other_organisations_chair_and_anonymous_get_nothing(world):
    before = _state()
    for url in (RESTORE, KIT, ROTATE):
        assert browser(world.charlie).post(url, {"kit": world.kit_b}).status_code == 404
        response = browser().post(url, {"kit": world.kit_a})
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert _state() == before


def test_a_share_is_printed_again_only_for_whoever_enters_k_shares(world):
    alice = browser(world.alice)
    assert "Print a trustee's share again" in alice.get(KIT).content.decode()
    messy = world.kit_a.lower().replace(" ", "\n  ")
    response = alice.post(KIT, {"kit": messy, "share": 3})
    html = response.content.decode()
    assert response.status_code == 200
    assert world.shares_a["dave"] in html, "Dave's share, as it was first printed"
    assert world.shares_a["alice"] not in html and world.shares_a["bob"] not in html
    assert "One trustee, one share" in html and "Offline" in html
    event = AuditEvent.objects.get(type=AuditType.RECOVERY_KIT_SHOWN)
    assert event.data == {
        "shares": [1, 2],
        "trustees": [world.alice.pk, world.bob.pk],
        "printed": 3,
    }
    before = _state()
    response = alice.post(KIT, {"kit": world.shares_a["alice"], "share": 2})
    assert response.status_code == 400
    assert world.shares_a["bob"] not in response.content.decode()
    assert _state() == before


def _opens_all(private_key, organisation, field="recovery_wrap"):
    for case in Case.objects.filter(organisation=organisation):
        crypto.data_key_unseal(private_key, getattr(case, field))


def _key(organisation, kit_text) -> bytes:
    organisation = Organisation.objects.get(pk=organisation.pk)
    return recovery.kit_private_key(organisation=organisation, kit_text=kit_text).private_key


def test_rotation_through_the_page_shows_the_new_shares_once_and_retires_the_old(world):
    alice = browser(world.alice)
    page = alice.get(ROTATE)
    assert "1 case will be re-wrapped" in page.content.decode()
    response = alice.post(
        ROTATE,
        {
            "kit": world.kit_a,
            "trustees": [world.alice.pk, world.bob.pk, world.erin.pk],
            "threshold": 3,
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    shares = response.context["shares"]
    assert [(s.trustee, s.index, s.threshold, s.count) for s in shares] == [
        (world.alice, 1, 3, 3),
        (world.bob, 2, 3, 3),
        (world.erin, 3, 3, 3),
    ]
    new_kit = "\n".join(s.text for s in shares)
    assert all(s.text in html for s in shares) and "shown once" in html
    assert not set(world.shares_a.values()) & {s.text for s in shares}
    org = Organisation.objects.get(pk=world.org_a.pk)
    _opens_all(_key(org, new_kit), org)
    assert org.recovery_rotation_salt is None and org.recovery_next_public_key is None
    assert org.recovery_threshold == 3

    response = alice.post(KIT, {"kit": world.kit_a, "share": 1})
    assert response.status_code == 400
    assert "replaced when the kit was re-issued" in response.content.decode()
    # The new kit restores access.
    _nobody_can_open(world)
    response = alice.post(
        RESTORE,
        {"form": "pending", "kit": new_kit, "pending": [PendingAccess.objects.get().pk]},
    )
    assert response.status_code == 302
    assert browser(world.bob).get(world.case_url).status_code == 200
    types = list(AuditEvent.objects.values_list("type", flat=True))
    assert AuditType.RECOVERY_ROTATION_STARTED in types and AuditType.RECOVERY_ROTATED in types


class Crash(Exception):
    pass


def test_interrupted_rotation_leaves_every_case_readable_and_rerunning_completes(
    world, submit_report
):
    for _ in range(6):
        submit_report(world.event_a)
    org = Organisation.objects.get(pk=world.org_a.pk)
    old_key = _key(org, world.kit_a)

    def crash(done):
        raise Crash

    with pytest.raises(Crash):
        rotation.recovery_rotate(
            actor=world.alice,
            organisation=org,
            kit_text=world.kit_a,
            batch_size=3,
            after_batch=crash,
        )
    status = rotation.rotation_status(organisation=org)
    assert (status.done, status.total, status.in_progress) == (3, 7, True)
    # Every case still opens with the old kit; the old kit is still the current one.
    _opens_all(old_key, org)
    assert "3 of 7 cases" in browser(world.alice).get(ROTATE).content.decode()

    # A report filed in the middle of the rotation is re-wrapped too.
    submit_report(world.event_a)
    seen = []
    result = rotation.recovery_rotate(
        actor=world.alice,
        organisation=org,
        kit_text=world.kit_a,
        batch_size=3,
        after_batch=seen.append,
    )
    assert seen == [6, 8]
    assert (result.done, result.total, result.in_progress) == (8, 8, False)
    assert [s.trustee for s in result.new_shares] == [world.alice, world.bob, world.dave]
    new_key = _key(org, "\n".join(s.text for s in result.new_shares[1:]))
    _opens_all(new_key, org)
    assert not Case.objects.filter(recovery_wrap_next__isnull=False).exists()
    with pytest.raises(crypto.RecoveryKitError, match="replaced"):
        rotation.recovery_rotate(actor=world.alice, organisation=org, kit_text=world.kit_a)
    assert AuditEvent.objects.filter(type=AuditType.RECOVERY_ROTATION_STARTED).count() == 1
    assert AuditEvent.objects.filter(type=AuditType.RECOVERY_ROTATED).count() == 1


def test_time_budget_stops_early_and_the_page_continues(world, submit_report):
    for _ in range(3):
        submit_report(world.event_a)
    org = Organisation.objects.get(pk=world.org_a.pk)
    partial = rotation.recovery_rotate(
        actor=world.alice, organisation=org, kit_text=world.kit_a, batch_size=1, time_budget=0
    )
    assert (partial.done, partial.total, partial.new_shares) == (1, 4, ())
    response = browser(world.alice).post(ROTATE, {"kit": world.kit_a})
    assert response.status_code == 200 and response.context["new"] is True


def _all_text_in_the_database() -> str:
    chunks = []
    for model in apps.get_models():
        for row in model.objects.all().values():
            for value in row.values():
                if isinstance(value, (bytes, memoryview)):
                    chunks.append(bytes(value).hex())
                    chunks.append(bytes(value).decode("latin-1"))
                else:
                    chunks.append(str(value))
    return "\n".join(chunks)


def test_the_kit_never_reaches_logs_database_or_audit(world, caplog):
    caplog.set_level(logging.DEBUG)
    _nobody_can_open(world)
    old_key = _key(world.org_a, world.kit_a)
    alice = browser(world.alice)
    bad = _bad_kits(world)
    alice.post(
        RESTORE, {"form": "grant", "kit": bad["typo"][0], "member": world.frank.pk, "scope": "all"}
    )
    alice.post(KIT, {"kit": world.kit_a, "share": 3})
    alice.post(
        RESTORE,
        {"form": "pending", "kit": world.kit_a, "pending": [PendingAccess.objects.get().pk]},
    )
    new_shares = alice.post(
        ROTATE,
        {"kit": world.kit_a, "trustees": [world.alice.pk, world.bob.pk], "threshold": 2},
    ).context["shares"]

    old_shares = list(world.shares_a.values())
    secrets_ = []
    for share in [*old_shares, *(s.text for s in new_shares), bad["typo"][0].split("\n")[1]]:
        body = _body(share)
        secrets_ += [body, body.replace(" ", ""), " ".join(body.split(" ")[:2])]
    logs = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    database = _all_text_in_the_database()
    audit = "\n".join(str(e.data) for e in AuditEvent.objects.all())
    for secret in secrets_:
        assert secret not in logs
        assert secret not in database
        assert secret not in audit
    new_key = _key(world.org_a, "\n".join(s.text for s in new_shares))
    for key in (old_key, new_key):
        for text in (logs, database, audit):
            assert key.hex() not in text and key.decode("latin-1") not in text
    assert "OMBUD-SHARE-1" not in database and "OMBUD-RECOVERY-1" not in database
