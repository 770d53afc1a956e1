"""What a review of two-factor sign-in with real authenticators found (issue 19):
recovery codes under a required second factor, code replay, where to find the
setup, and wording. The security-key cases run in Chromium with its virtual
authenticator: tests/browser/test_security_keys.py."""

import re
import time
from datetime import UTC, datetime

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from django.test import Client

from conftest import browser
from ombud.accounts.tests.test_mfa import (
    _settings_post,
    password_step,
    recovery_codes,
    totp_activate,
    totp_code,
)
from tests.support.webauthn import security_key_add

STEP = "/accounts/login/two-factor/"


@pytest.fixture
def required(people, django_capture_on_commit_callbacks):
    """Org A requires two-factor sign-in; bob has an authenticator app."""
    alice = browser(people.alice)
    with django_capture_on_commit_callbacks(execute=True):
        totp_activate(alice)
        bob = browser(people.bob)
        people.bob_secret = totp_activate(bob)
    people.bob_codes = recovery_codes(bob)
    assert alice.post("/org-a/staff/settings/", _settings_post()).status_code == 302
    return people


# --- 1. a recovery code is a second factor ------------------------------------------


def test_a_recovery_code_signs_in_where_the_organisation_requires_two_factors(required):
    client = password_step(required.bob)
    response = client.post(STEP, {"code": required.bob_codes[0]})
    assert response.status_code == 302
    for url in ("/org-a/staff/", "/org-a/staff/access/", "/staff/profile/"):
        page = client.get(url)
        assert page.status_code == 200, url
    # Still signed in after several pages: nothing sent them back to log in.
    assert client.get("/org-a/staff/").status_code == 200


# --- 2. a code, once used, is refused as long as it could be valid ----------------


def _window_start() -> float:
    """A moment one second into a fresh 30-second window, a little ahead."""
    return (int(time.time()) // 30 + 1) * 30 + 1


def test_a_used_code_is_refused_from_another_browser_while_it_is_still_valid(required):
    start = _window_start()
    with time_machine.travel(datetime.fromtimestamp(start, UTC), tick=False) as t:
        code = totp_code(required.bob_secret)
        first = password_step(required.bob)
        assert first.post(STEP, {"code": code}).status_code == 302

        for later in (32, 58):  # the code is still within the drift tolerance
            t.move_to(datetime.fromtimestamp(start - 1 + later, UTC))
            second = password_step(required.bob)
            response = second.post(STEP, {"code": code})
            assert response.status_code == 400, later
            assert b"This code was already used" in response.content
            assert second.get("/org-a/staff/").status_code == 302
        # The next code works.
        third = password_step(required.bob)
        response = third.post(STEP, {"code": totp_code(required.bob_secret)})
        assert response.status_code == 302


def test_the_used_code_is_not_stored_in_plain(required):
    from django.db import connection

    code = totp_code(required.bob_secret)
    assert password_step(required.bob).post(STEP, {"code": code}).status_code == 302
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key, value FROM ombud_cache")
        rows = cursor.fetchall()
    assert rows
    ours = [key for key, _value in rows if "totp-used" in key]
    assert ours, "the used code is remembered in the shared cache"
    assert all(code not in key for key in ours)


# --- 4. security keys name Ombud, and development uses localhost -----------------


def test_authenticators_are_told_the_site_is_called_ombud(rf, settings):
    from allauth.core import context

    from ombud.accounts.mfa import MFAAdapter

    request = rf.get("/", HTTP_HOST="localhost:8130")
    with context.request_context(request):
        entity = MFAAdapter().get_public_key_credential_rp_entity()
    assert entity == {"id": "localhost", "name": "Ombud"}


def test_development_addresses_use_localhost(settings):
    from django.conf import settings as live

    assert live.SITE_ROOT.startswith("http://localhost:")


# --- 5. finding it ---------------------------------------------------------------


def test_the_profile_page_and_the_staff_menu_link_to_two_factor_setup(people):
    client = browser(people.bob)
    for url in ("/staff/profile/", "/org-a/staff/"):
        html = client.get(url).content.decode()
        assert 'href="/accounts/mfa/"' in html, url
        assert "Two-factor authentication" in html


def test_the_chair_is_told_the_path_that_exists(people):
    response = browser(people.alice).post("/org-a/staff/settings/", _settings_post())
    assert response.status_code == 400
    html = response.content.decode()
    assert "Profile → Two-factor authentication" in html
    profile = browser(people.alice).get("/staff/profile/").content.decode()
    assert ">Two-factor authentication</a>" in profile


def test_security_keys_are_listed_by_their_name(people):
    client = browser(people.bob)
    security_key_add(people.bob, "Blue YubiKey")
    page = client.get("/accounts/mfa/webauthn/")
    assert page.status_code == 200, page
    html = page.content.decode()
    assert "Blue YubiKey" in html
    assert "Unspecified" not in html


# --- 6. wording --------------------------------------------------------------------


def test_the_lockout_says_how_long_it_lasts(required):
    client = password_step(required.bob)
    for _ in range(5):
        client.post(STEP, {"code": "000000"})
    response = client.post(STEP, {"code": totp_code(required.bob_secret)})
    assert response.status_code == 400
    assert b"Too many failed attempts" in response.content
    assert b"5 minutes" in response.content


def test_an_expired_password_step_says_why(required, clock):
    from datetime import timedelta

    client = password_step(required.bob)
    clock.shift(timedelta(minutes=6))
    response = client.post(STEP, {"code": totp_code(required.bob_secret)}, follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert b"more than 5 minutes" in response.content


def test_the_second_step_offers_to_cancel_and_sign_in_as_someone_else(required):
    client = password_step(required.bob)
    html = client.get(STEP).content.decode()
    assert "Cancel: sign in as someone else" in html
    response = client.post("/accounts/login/two-factor/cancel/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    # The half-finished sign-in is gone: the code no longer signs anyone in.
    again = client.post(STEP, {"code": totp_code(required.bob_secret)})
    assert again["Location"] == "/accounts/login/"


def test_no_raw_field_name_on_a_refused_security_key(required):
    security_key_add(required.bob)
    client = password_step(required.bob)
    for bad in ("", "not json", '{"id": "x"}'):
        response = client.post(STEP, {"credential": bad})
        assert response.status_code == 400, bad
        html = response.content.decode()
        visible = re.sub(r"<script.*?</script>|<[^>]+>", " ", html, flags=re.S)
        assert "credential" not in visible.lower(), bad
        assert "security key was not accepted" in visible


def test_someone_with_only_security_keys_is_not_asked_for_a_6_digit_code(people):
    security_key_add(people.bob)
    Authenticator.objects.create(
        user=people.bob, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "00" * 20}
    )
    client = password_step(people.bob)
    html = client.get(STEP).content.decode()
    assert "6-digit" not in html
    assert "Use your security key" in html
    assert "recovery code" in html


def test_someone_with_an_app_is_asked_for_the_code(required):
    html = password_step(required.bob).get(STEP).content.decode()
    assert "Enter the 6-digit code" in html
    assert Client().get(STEP)["Location"] == "/accounts/login/"
