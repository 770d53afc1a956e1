"""Housekeeping deletes invitations a while after their link expired; until
then the team page shows them as expired."""

import os
from datetime import timedelta

from django.utils import timezone

from ombud.lib.housekeeping import housekeeping_run
from ombud.orgs.housekeeping import INVITATION_SHOWN_EXPIRED
from ombud.orgs.models import Invitation


def test_invitations_long_expired_are_deleted_and_the_others_kept(people):
    now = timezone.now()
    for email, expires_in in [
        ("long-gone@a.example", -INVITATION_SHOWN_EXPIRED - timedelta(days=1)),
        ("just-gone@a.example", -INVITATION_SHOWN_EXPIRED - timedelta(seconds=1)),
        ("shown-expired@a.example", -INVITATION_SHOWN_EXPIRED),
        ("expired-yesterday@a.example", timedelta(days=-1)),
        ("valid@a.example", timedelta(days=6)),
    ]:
        Invitation.objects.create(
            organisation=people.org_a,
            email=email,
            display_name=email.split("@")[0],
            secret_hash=os.urandom(32),
            invited_by=people.alice,
            expires_at=now + expires_in,
        )

    assert housekeeping_run(now)["invitations"] == 2

    assert sorted(Invitation.objects.values_list("email", flat=True)) == [
        "expired-yesterday@a.example",
        "shown-expired@a.example",
        "valid@a.example",
    ]


def test_the_team_page_still_shows_a_recently_expired_invitation(people, login):
    Invitation.objects.create(
        organisation=people.org_a,
        email="erin@a.example",
        display_name="Erin",
        secret_hash=os.urandom(32),
        expires_at=timezone.now() - timedelta(days=3),
    )
    housekeeping_run()
    page = login(people.alice).get("/org-a/staff/team/").content.decode()
    assert "erin@a.example" in page and "invitation expired" in page
