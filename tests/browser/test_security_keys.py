"""Security keys as a staff member meets them (issue 19), with Chromium's own
WebAuthn virtual authenticator (DevTools protocol) standing in for the key:
adding one on allauth's page and signing in with it, adding the same key
twice, a key this account does not know, an address the browser refuses,
and the second step of someone who has only a security key.

Chromium answers each refusal at once here (headless, a virtual key), so no
test waits for the ceremony's timeout."""

import os
import re
from pathlib import Path

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

from conftest import PASSWORD
from tests.support.webauthn import security_key_add

from .conftest import DESKTOP
from .test_report_flow import assert_no_csp_violations

SHOTS = os.environ.get("OMBUD_SHOTS")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STEP = "/accounts/login/two-factor/"
MARKER = "Key-marker-5b2d"

# What static/webauthn-errors.js says for each refusal.
ALREADY_REGISTERED = "This security key is already registered for your account."
NOT_ALLOWED = "this key is not one registered for your account"
REFUSED_ADDRESS = "Your browser refused security keys on this address."

KEY_OPTIONS = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": False,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


class VirtualKeys:
    """Chromium's virtual authenticators for one page: plugging a key in,
    pulling it out."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})

    def plug_in(self, **options) -> str:
        answer = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator", {"options": {**KEY_OPTIONS, **options}}
        )
        return answer["authenticatorId"]

    def pull_out(self, authenticator_id: str) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator_id})

    def credentials(self, authenticator_id: str) -> list[dict]:
        answer = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
        return answer["credentials"]


def key_add(page, base_url: str, name: str) -> None:
    """Add a security key as bob would: from the staff menu to allauth's
    two-factor page, its Security Keys panel (Add, or Manage then Add once
    there is one), a name, Add, and the (virtual) key answers. The password
    step of the login counts as recent: the app does not ask for it again."""
    page.get_by_role("navigation", name="Staff").get_by_role(
        "link", name="Two-factor authentication"
    ).click()
    panel = page.locator("section").filter(has=page.get_by_role("heading", name="Security Keys"))
    if panel.get_by_role("link", name="Manage").count():
        panel.get_by_role("link", name="Manage").click()
        page.get_by_role("link", name="Add", exact=True).click()
    else:
        panel.get_by_role("link", name="Add", exact=True).click()
    assert page.url == f"{base_url}/accounts/mfa/webauthn/add/"
    expect(page.get_by_role("heading", name="Add Security Key")).to_be_visible()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Add", exact=True).click()


def key_added(page) -> None:
    """The first key also makes recovery codes, and allauth shows them."""
    page.wait_for_url(re.compile(r"/accounts/mfa/(recovery-codes/)?$"))


def assert_said_on_the_page_only(console, error: str) -> None:
    """The refusal was handled by the page's script: nothing uncaught, and
    no console line instead of a message."""
    assert [m for m in console.messages if error in m or m.startswith("pageerror")] == []


def password_step(page, base_url: str, user) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}{STEP}")


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))


def assert_still_on_second_step(page, base_url: str) -> None:
    """The code form is there to use instead, and nobody is signed in."""
    assert page.url == f"{base_url}{STEP}"
    expect(page.get_by_label("Recovery code")).to_be_visible()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    response = page.request.get(f"{base_url}/org-a/staff/", max_redirects=0)
    assert response.status == 302
    assert response.headers["location"].startswith("/accounts/login/")


def test_add_a_key_by_name_and_sign_in_with_it(
    live_server, people, staff_page, console, submit_report
):
    case, _ = submit_report(people.event_a, description=f"{MARKER} behind the stage")
    page = staff_page(people.bob)
    keys = VirtualKeys(page)
    blue = keys.plug_in()

    key_add(page, live_server.url, "Blue key")
    key_added(page)
    assert len(keys.credentials(blue)) == 1
    stored = Authenticator.objects.get(user=people.bob, type=Authenticator.Type.WEBAUTHN)
    assert stored.data["name"] == "Blue key"
    page.goto(f"{live_server.url}/accounts/mfa/webauthn/")
    expect(page.get_by_role("cell", name="Blue key")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Unspecified")

    log_out(page)
    password_step(page, live_server.url, people.bob)
    page.get_by_role("button", name="Use a security key").click()
    # Signed in: /staff/ forwards a member of one organisation to its cases.
    page.wait_for_url(f"{live_server.url}/org-a/staff/")

    page.goto(f"{live_server.url}/org-a/staff/cases/{case.number}/")
    expect(page.locator("main")).to_contain_text(MARKER)
    assert_no_csp_violations(console)


def test_adding_the_same_key_twice_says_so(live_server, people, staff_page, console):
    page = staff_page(people.bob)
    keys = VirtualKeys(page)
    keys.plug_in()
    key_add(page, live_server.url, "Blue key")
    key_added(page)

    key_add(page, live_server.url, "Blue key again")
    alert = page.get_by_role("alert").filter(has_text=ALREADY_REGISTERED)
    expect(alert).to_be_visible()
    expect(alert).to_have_text(ALREADY_REGISTERED)
    assert page.url == f"{live_server.url}/accounts/mfa/webauthn/add/"
    assert Authenticator.objects.filter(user=people.bob, type="webauthn").count() == 1
    assert_said_on_the_page_only(console, "InvalidStateError")
    assert_no_csp_violations(console)


def test_a_key_this_account_does_not_know_is_refused_on_the_page(
    live_server, people, staff_page, console
):
    page = staff_page(people.bob)
    keys = VirtualKeys(page)
    blue = keys.plug_in()
    key_add(page, live_server.url, "Blue key")
    key_added(page)
    log_out(page)

    assert len(keys.credentials(blue)) == 1
    keys.pull_out(blue)
    stranger = keys.plug_in()  # someone else's key, or a new one never added
    assert keys.credentials(stranger) == []
    password_step(page, live_server.url, people.bob)
    page.get_by_role("button", name="Use a security key").click()
    alert = page.locator("#webauthn-problem")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text(NOT_ALLOWED)
    assert_still_on_second_step(page, live_server.url)
    if SHOTS:  # OMBUD_SHOTS=<dir>: saved for a look by a person
        page.screenshot(path=str(Path(SHOTS) / "mfa-key-error.png"))
    assert_said_on_the_page_only(console, "NotAllowedError")
    assert_no_csp_violations(console)


def test_an_address_the_browser_refuses_says_so_on_the_page(
    live_server, people, new_context, console
):
    security_key_add(people.bob, "Blue key")
    numeric = live_server.url.replace("localhost", "127.0.0.1")
    assert numeric != live_server.url
    page = console.watch(new_context(viewport=DESKTOP).new_page())
    keys = VirtualKeys(page)
    keys.plug_in()
    password_step(page, numeric, people.bob)
    page.get_by_role("button", name="Use a security key").click()
    alert = page.locator("#webauthn-problem")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(REFUSED_ADDRESS)
    assert_still_on_second_step(page, numeric)
    assert_said_on_the_page_only(console, "SecurityError")
    assert_no_csp_violations(console)


def test_someone_with_only_a_security_key_is_not_asked_for_a_6_digit_code(
    live_server, people, staff_page, console
):
    page = staff_page(people.bob)
    keys = VirtualKeys(page)
    keys.plug_in()
    key_add(page, live_server.url, "Blue key")
    key_added(page)
    log_out(page)

    password_step(page, live_server.url, people.bob)
    main = page.locator("main")
    expect(page.get_by_role("button", name="Use a security key")).to_be_visible()
    expect(main).not_to_contain_text("6-digit")
    expect(main).not_to_contain_text("authenticator app")
    expect(page.get_by_label("Recovery code")).to_be_visible()
    expect(page.locator("#webauthn-problem")).to_be_hidden()
    assert_no_csp_violations(console)
