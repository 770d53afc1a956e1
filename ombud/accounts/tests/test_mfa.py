"""Two-factor authentication: setting it up on allauth's pages, the second
step of our login (which still unlocks the private key), recovery codes, the
organisation's "require MFA" and the chair's reset."""

import re
import time
from datetime import timedelta

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

from conftest import PASSWORD, browser
from ombud.accounts.services import user_create
from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.cases.models import Note
from ombud.orgs.models import Membership, Role

MARKER = "MFA-marker-7c1e"


def totp_code(secret: str, offset: int = 0) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + offset))


def totp_activate(client) -> str:
    """Set up an authenticator app through allauth's page, with JavaScript
    off: read the secret from the page, answer with a code. Returns the secret."""
    page = client.get("/accounts/mfa/totp/activate/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'src="data:image/svg+xml;base64,' in html  # the QR code
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', html)
    secret = secret or re.search(r'value="([A-Z2-7]{32})"', html)
    assert secret, "no secret on the page"
    response = client.post("/accounts/mfa/totp/activate/", {"code": totp_code(secret.group(1))})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/mfa/recovery-codes/"
    return secret.group(1)


def recovery_codes(client) -> list[str]:
    html = client.get("/accounts/mfa/recovery-codes/").content.decode()
    return re.findall(r"\b(\d{8})\b", html)


def password_step(user):
    client = browser()
    response = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/two-factor/"
    return client


@pytest.fixture
def bob_mfa(people, django_capture_on_commit_callbacks):
    client = browser(people.bob)
    with django_capture_on_commit_callbacks(execute=True):  # allauth's signal
        people.bob_secret = totp_activate(client)
    people.bob_codes = recovery_codes(client)
    return people


def test_setting_up_an_authenticator_app_is_audited_and_gives_recovery_codes(bob_mfa):
    assert Authenticator.objects.filter(user=bob_mfa.bob, type="totp").exists()
    assert len(bob_mfa.bob_codes) == 10
    assert AuditEvent.objects.filter(
        organisation=bob_mfa.org_a, type=AuditType.MFA_ADDED, actor_id=bob_mfa.bob.pk
    ).exists()


def test_login_with_mfa_asks_for_the_code_before_anything_is_visible(bob_mfa, submit_report):
    case, _ = submit_report(bob_mfa.event_a, description=f"{MARKER} in the hallway")
    client = password_step(bob_mfa.bob)
    # The password alone logs nobody in.
    assert client.get("/org-a/staff/")["Location"].startswith("/accounts/login/")
    assert client.get(f"/org-a/staff/cases/{case.number}/").status_code == 302

    page = client.get("/accounts/login/two-factor/")
    assert b"Enter the 6-digit code" in page.content

    wrong = client.post("/accounts/login/two-factor/", {"code": "000000"})
    assert wrong.status_code == 400
    assert b"Incorrect code" in wrong.content
    assert client.get("/org-a/staff/").status_code == 302

    right = client.post("/accounts/login/two-factor/", {"code": totp_code(bob_mfa.bob_secret)})
    assert right.status_code == 302
    assert right["Location"] == "/staff/"
    # The key unlocked at the password step opens the case.
    detail = client.get(f"/org-a/staff/cases/{case.number}/")
    assert detail.status_code == 200
    assert MARKER.encode() in detail.content


def test_a_code_of_the_last_half_minute_works_an_older_one_does_not(bob_mfa):
    client = password_step(bob_mfa.bob)
    stale = client.post("/accounts/login/two-factor/", {"code": totp_code(bob_mfa.bob_secret, -3)})
    assert stale.status_code == 400
    late = client.post("/accounts/login/two-factor/", {"code": totp_code(bob_mfa.bob_secret, -1)})
    assert late.status_code == 302
    assert client.get("/org-a/staff/").status_code == 200


def test_a_recovery_code_works_once(bob_mfa):
    code = bob_mfa.bob_codes[0]
    client = password_step(bob_mfa.bob)
    assert client.post("/accounts/login/two-factor/", {"code": code}).status_code == 302
    assert client.get("/org-a/staff/").status_code == 200

    again = password_step(bob_mfa.bob)
    response = again.post("/accounts/login/two-factor/", {"code": code})
    assert response.status_code == 400
    assert again.get("/org-a/staff/").status_code == 302


def test_guessing_codes_is_stopped_after_five_wrong_ones(bob_mfa):
    client = password_step(bob_mfa.bob)
    for _ in range(5):
        response = client.post("/accounts/login/two-factor/", {"code": "000000"})
        assert b"Incorrect code" in response.content
    # Even the right code is refused for now, and a new password step does
    # not reset the count: it is kept per account, in the shared cache.
    again = password_step(bob_mfa.bob)
    response = again.post("/accounts/login/two-factor/", {"code": totp_code(bob_mfa.bob_secret)})
    assert response.status_code == 400
    assert b"Too many failed" in response.content
    assert again.get("/org-a/staff/").status_code == 302


def test_the_second_step_expires_after_five_minutes(bob_mfa, clock):
    client = password_step(bob_mfa.bob)
    clock.shift(timedelta(minutes=6))
    response = client.post("/accounts/login/two-factor/", {"code": totp_code(bob_mfa.bob_secret)})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.get("/org-a/staff/").status_code == 302


def test_the_second_step_without_the_first_goes_to_login(people):
    client = browser()
    response = client.post("/accounts/login/two-factor/", {"code": "123456"})
    assert response["Location"] == "/accounts/login/"


def test_a_wrong_password_never_reaches_the_second_step(bob_mfa):
    client = browser()
    response = client.post("/accounts/login/", {"username": bob_mfa.bob.email, "password": "nope"})
    assert response.status_code == 200
    assert client.get("/accounts/login/two-factor/")["Location"] == "/accounts/login/"


def test_people_without_mfa_log_in_with_the_password_alone(people):
    client = browser()
    response = client.post(
        "/accounts/login/", {"username": people.dave.email, "password": PASSWORD}
    )
    assert response["Location"] == "/staff/"


# --- the organisation requires MFA ------------------------------------------------


def _settings_post(**overrides):
    data = {
        "escalation_minutes": "10",
        "meeting_hours": "24",
        "followup_days": "7",
        "two_person_severity": "",
        "require_mfa": "on",
    }
    data.update(overrides)
    return data


def test_the_chair_needs_mfa_before_requiring_it(people):
    alice = browser(people.alice)
    response = alice.post("/org-a/staff/settings/", _settings_post())
    assert response.status_code == 400
    assert b"Set up two-factor authentication for yourself first" in response.content
    people.org_a.refresh_from_db()
    assert not people.org_a.require_mfa


def test_required_mfa_sends_members_without_it_to_set_it_up(people, submit_report):
    case, _ = submit_report(people.event_a, description=f"{MARKER} report")
    alice = browser(people.alice)
    totp_activate(alice)
    assert alice.post("/org-a/staff/settings/", _settings_post()).status_code == 302
    people.org_a.refresh_from_db()
    assert people.org_a.require_mfa

    bob = browser(people.bob)
    for url in ("/org-a/staff/", f"/org-a/staff/cases/{case.number}/", "/org-a/staff/access/"):
        response = bob.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == "/accounts/mfa/"
    # Writes are refused the same way, and change nothing.
    response = bob.post(f"/org-a/staff/cases/{case.number}/note/", {"text": "a note"})
    assert response["Location"] == "/accounts/mfa/"
    assert not Note.objects.filter(case=case).exists()
    page = bob.get("/accounts/mfa/")
    assert b"Org A requires two-factor authentication" in page.content

    totp_activate(bob)
    detail = bob.get(f"/org-a/staff/cases/{case.number}/")
    assert detail.status_code == 200
    assert MARKER.encode() in detail.content
    # Another organisation is not affected.
    assert browser(people.charlie).get("/org-b/staff/").status_code == 200


def test_a_session_from_before_mfa_was_set_up_must_log_in_again(people, submit_report):
    """Someone who had only the password, and logged in before the member set
    up MFA, loses the case once the organisation requires it."""
    case, _ = submit_report(people.event_a, description=f"{MARKER} report")
    earlier = browser(people.bob)  # the password alone, before MFA
    bob = browser(people.bob)
    totp_activate(bob)
    alice = browser(people.alice)
    totp_activate(alice)
    assert alice.post("/org-a/staff/settings/", _settings_post()).status_code == 302

    response = earlier.get(f"/org-a/staff/cases/{case.number}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert MARKER.encode() not in response.content
    assert earlier.get("/org-a/staff/")["Location"].startswith("/accounts/login/")
    # The session that set the authenticator up proved it, and goes on.
    assert MARKER.encode() in bob.get(f"/org-a/staff/cases/{case.number}/").content
    # So does the chair's, who set up hers the same way.
    assert alice.get("/org-a/staff/").status_code == 200


def test_the_key_joins_the_session_only_after_the_second_factor(bob_mfa):
    from ombud.accounts.keys import SESSION_FIELD

    client = password_step(bob_mfa.bob)
    assert SESSION_FIELD not in client.session
    client.post("/accounts/login/two-factor/", {"code": totp_code(bob_mfa.bob_secret)})
    assert SESSION_FIELD in client.session


def test_the_second_step_ends_when_the_password_changed_since_the_first(bob_mfa):
    client = password_step(bob_mfa.bob)
    bob_mfa.bob.set_password("a different long password")
    bob_mfa.bob.save()
    response = client.post("/accounts/login/two-factor/", {"code": totp_code(bob_mfa.bob_secret)})
    assert response["Location"] == "/accounts/login/"
    assert client.get("/org-a/staff/").status_code == 302


def test_logging_in_over_someone_elses_session_keeps_the_key(bob_mfa, submit_report):
    case, _ = submit_report(bob_mfa.event_a, description=f"{MARKER} report")
    client = browser(bob_mfa.dave)  # dave's browser, still logged in
    response = client.post("/accounts/login/", {"username": "bob@a.example", "password": PASSWORD})
    assert response["Location"] == "/accounts/login/two-factor/"
    client.post("/accounts/login/two-factor/", {"code": totp_code(bob_mfa.bob_secret)})
    assert MARKER.encode() in client.get(f"/org-a/staff/cases/{case.number}/").content


def test_recovery_codes_alone_are_not_two_factor(bob_mfa):
    from ombud.accounts.mfa import mfa_enabled

    Authenticator.objects.filter(user=bob_mfa.bob, type="totp").delete()
    assert Authenticator.objects.filter(user=bob_mfa.bob, type="recovery_codes").exists()
    assert not mfa_enabled(bob_mfa.bob)
    browser(bob_mfa.bob)  # the password alone logs in


def test_the_team_page_shows_who_has_mfa(bob_mfa):
    page = browser(bob_mfa.alice).get("/org-a/staff/team/").content.decode()
    assert re.search(r"Bob.*?Two-factor\">on", page, re.S)
    assert re.search(r"Dave.*?Two-factor\"><strong>off", page, re.S)


# --- the chair resets a member's MFA ------------------------------------------------


def _bob_membership(people):
    return Membership.objects.get(user=people.bob, organisation=people.org_a)


def test_chair_resets_a_members_mfa(bob_mfa):
    url = f"/org-a/staff/team/{_bob_membership(bob_mfa).pk}/mfa-reset/"
    response = browser(bob_mfa.alice).post(url, follow=True)
    assert b"Two-factor authentication of Bob was reset" in response.content
    assert not Authenticator.objects.filter(user=bob_mfa.bob).exists()
    assert AuditEvent.objects.filter(
        organisation=bob_mfa.org_a, type=AuditType.MFA_RESET_BY_CHAIR, actor_id=bob_mfa.alice.pk
    ).exists()
    # Bob logs in with his password alone now, and his key still works.
    assert browser(bob_mfa.bob).get("/org-a/staff/").status_code == 200


def test_after_a_reset_in_an_organisation_requiring_mfa_the_member_sets_it_up_again(bob_mfa):
    """Bob's open session had used his old authenticator; once the chair
    removed it, that session must set up a new one before any case."""
    bob = password_step(bob_mfa.bob)
    bob.post("/accounts/login/two-factor/", {"code": totp_code(bob_mfa.bob_secret)})
    alice = browser(bob_mfa.alice)
    totp_activate(alice)
    assert alice.post("/org-a/staff/settings/", _settings_post()).status_code == 302
    assert bob.get("/org-a/staff/").status_code == 200

    alice.post(f"/org-a/staff/team/{_bob_membership(bob_mfa).pk}/mfa-reset/")

    response = bob.get("/org-a/staff/")
    assert response.status_code == 302 and response["Location"] == "/accounts/mfa/"


@pytest.mark.parametrize(("who", "status"), [("dave", 403), ("charlie", 404), ("anonymous", 302)])
def test_only_the_chair_resets_mfa(bob_mfa, who, status):
    client = browser(None if who == "anonymous" else getattr(bob_mfa, who))
    url = f"/org-a/staff/team/{_bob_membership(bob_mfa).pk}/mfa-reset/"
    assert client.post(url).status_code == status
    assert Authenticator.objects.filter(user=bob_mfa.bob).count() == 2  # TOTP + codes


def test_reset_is_refused_for_yourself_and_for_members_of_other_organisations(bob_mfa):
    alice = browser(bob_mfa.alice)
    totp_activate(alice)
    own = Membership.objects.get(user=bob_mfa.alice, organisation=bob_mfa.org_a)
    response = alice.post(f"/org-a/staff/team/{own.pk}/mfa-reset/", follow=True)
    assert b"Reset your own two-factor authentication on your profile page" in response.content
    assert Authenticator.objects.filter(user=bob_mfa.alice).exists()

    Membership.objects.create(user=bob_mfa.bob, organisation=bob_mfa.org_b, role=Role.RESPONDER)
    url = f"/org-a/staff/team/{_bob_membership(bob_mfa).pk}/mfa-reset/"
    response = alice.post(url, follow=True)
    assert b"also on another organisation" in response.content
    assert Authenticator.objects.filter(user=bob_mfa.bob).count() == 2


# --- security keys (WebAuthn) --------------------------------------------------------


@pytest.mark.parametrize("credential", ["0", "0.0", "false", "1.5", '"text"', "[1]"])
def test_a_security_key_answer_that_is_no_object_is_refused_with_a_message(people, credential):
    """Found by the fuzz tests (ombud/tests/test_fuzz.py): allauth took a
    falsy answer (0, false) for a well-formed one and failed with a 500."""
    client = browser(people.bob)
    response = client.post(
        "/accounts/mfa/webauthn/add/", {"credential": credential, "name": "My key"}
    )
    assert response.status_code == 200
    assert "could not be read" in response.content.decode()
    assert not Authenticator.objects.filter(user=people.bob).exists()


def test_security_key_page_uses_only_script_files(people):
    client = browser(people.bob)
    response = client.get("/accounts/mfa/webauthn/add/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script src="/static/mfa/js/webauthn.js"></script>' in html
    # Every other script element is JSON data, which the browser never runs.
    for tag in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html):
        assert 'type="application/json"' in tag or "json_script" in tag or "js_data" in tag
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp


def test_second_step_without_a_security_key_needs_no_javascript(bob_mfa):
    html = password_step(bob_mfa.bob).get("/accounts/login/two-factor/").content.decode()
    assert "<script" not in html
    assert '<form method="post" action="/accounts/login/two-factor/"' in html


def test_new_user_invited_later_can_set_up_mfa(people):
    erin = user_create(email="erin@a.example", password=PASSWORD, display_name="Erin")
    Membership.objects.create(user=erin, organisation=people.org_a, role=Role.RESPONDER)
    totp_activate(browser(erin))
    password_step(erin)


# --- the password reset page is throttled -------------------------------------------


def test_password_reset_is_throttled_per_address_whether_it_exists_or_not(people, smtp):
    for email in (people.bob.email, "nobody@a.example"):
        answers = [
            browser(ip=f"10.0.0.{i}").post("/accounts/password/reset/", {"email": email})
            for i in range(5)
        ]
        assert [a.status_code for a in answers] == [302, 302, 302, 429, 429]
        assert b"Too many requests" in answers[-1].content


def test_password_reset_is_throttled_per_ip(people):
    # At the start of a 15-minute window, so the requests are all in one.
    start = (int(time.time()) // 900 + 1) * 900 + 1
    with time_machine.travel(start, tick=True):
        client = browser(ip="10.9.9.9")
        codes = [
            client.post("/accounts/password/reset/", {"email": f"x{i}@a.example"}).status_code
            for i in range(7)
        ]
    assert codes == [302] * 5 + [429] * 2
