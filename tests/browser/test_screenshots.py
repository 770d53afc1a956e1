"""Every page a reporter or responder sees, at phone and desktop width: no
sideways scrolling, no CSP violation. With OMBUD_SHOTS=<dir> the pages are
also saved as PNGs there, for looking at them:

    OMBUD_SHOTS=/tmp/shots make test-browser PYTEST_ARGS="-k screenshots"
"""

import os
from pathlib import Path

import pytest

from ombud.cases.services.submit import case_submit
from ombud.intake.forms import ReportForm

from .conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("OMBUD_SHOTS")

LONG_DESCRIPTION = (
    "During the evening social, a person I had not met before kept standing very close "
    "to me and commenting on my appearance. I moved away twice and they followed me to "
    "the coat check. A friend saw part of it.\n\nI am not sure whether this counts, "
    "but I did not feel safe leaving alone. https://example.org/a-very-long-link-that-"
    "should-wrap-instead-of-pushing-the-page-sideways-on-a-phone"
)


def _content(**fields):
    form = ReportForm({"consent_public": "no", **fields})
    assert form.is_valid(), form.errors
    return form.content()


def _check(page, console, width, name):
    if SHOTS:
        _save(page, name)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name}: {scroll_width}px wide at {width}px"
    assert console.csp_violations() == [], console.messages


def _save(page, name):
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)
    # Tall pages also in screen-sized parts, readable at full size.
    viewport = page.viewport_size
    height = page.evaluate("document.documentElement.scrollHeight")
    if height <= viewport["height"]:
        return
    for part, top in enumerate(range(0, height, viewport["height"]), start=1):
        clip = {
            "x": 0,
            "y": top,
            "width": viewport["width"],
            "height": min(viewport["height"], height - top),
        }
        page.screenshot(path=str(Path(SHOTS) / f"{name}-{part}.png"), full_page=True, clip=clip)


def test_pages_fit_and_look_right(live_server, people, new_context, staff_page, console):
    report_url = f"{live_server.url}{people.event_a.get_report_url()}"
    people.event_a.team_email = "conduct@pyconf.example"
    people.event_a.save()

    desktop = console.watch(new_context(viewport=DESKTOP, java_script_enabled=False).new_page())
    desktop.goto(report_url)
    _check(desktop, console, DESKTOP["width"], "report-1280")
    desktop.goto(f"{live_server.url}/accounts/login/")
    _check(desktop, console, DESKTOP["width"], "login-1280")

    phone = console.watch(
        new_context(viewport=PHONE, java_script_enabled=False, is_mobile=True).new_page()
    )
    phone.goto(f"{live_server.url}/accounts/login/")
    _check(phone, console, PHONE["width"], "login-375")
    phone.goto(report_url)
    _check(phone, console, PHONE["width"], "report-375")
    if SHOTS:  # what a keyboard user sees: skip link, then the portal link
        phone.keyboard.press("Tab")
        phone.screenshot(path=str(Path(SHOTS) / "focus-skip-375.png"))
        phone.keyboard.press("Tab")
        phone.screenshot(path=str(Path(SHOTS) / "focus-link-375.png"))
    # The error state: submitted without a description.
    phone.get_by_role("button", name="Send report").click()
    _check(phone, console, PHONE["width"], "report-error-375")
    phone.get_by_label("What happened?").fill(LONG_DESCRIPTION)
    phone.get_by_label("This is happening now or still ongoing").check()
    phone.get_by_role("button", name="Send report").click()
    phone.get_by_role("heading", name="Save your receipt now").wait_for()
    _check(phone, console, PHONE["width"], "receipt-375")
    receipt = phone.locator(".receipt .code").inner_text().strip()

    # Later, the reporter comes back with the receipt.
    phone.goto(f"{live_server.url}/{people.org_a.slug}/report/status/")
    _check(phone, console, PHONE["width"], "portal-enter-375")
    phone.get_by_label("Your receipt").fill(receipt.lower())
    phone.get_by_role("button", name="Open my report").click()
    _check(phone, console, PHONE["width"], "portal-case-375")

    # Two more cases, so the dashboard has three, one of them ongoing.
    case_submit(
        event=people.event_a,
        content=_content(
            description="Offensive slides in the lightning talks.",
            location="Main hall",
            reporter_contact="someone@example.org",
        ),
    )
    case_submit(event=people.event_a, content=_content(description="Comment in the chat."))

    bob = staff_page(people.bob)
    dashboard = f"{live_server.url}/{people.org_a.slug}/staff/"
    bob.goto(dashboard)
    assert bob.locator("table.cases tbody tr").count() == 3
    _check(bob, console, DESKTOP["width"], "dashboard-1280")
    bob.goto(f"{dashboard}cases/1/")
    _check(bob, console, DESKTOP["width"], "case-1280")

    bob_phone = staff_page(people.bob, viewport=PHONE)
    bob_phone.goto(dashboard)
    _check(bob_phone, console, PHONE["width"], "dashboard-375")
    bob_phone.goto(f"{dashboard}cases/1/")
    _check(bob_phone, console, PHONE["width"], "case-375")
    bob_phone.goto(f"{dashboard}cases/1/recuse/")
    _check(bob_phone, console, PHONE["width"], "recuse-375")

    # The chair's pages.
    alice = staff_page(people.alice, viewport=PHONE)
    for name, path in [
        ("events", "events/"),
        ("event-edit", f"events/{people.event_a.slug}/"),
        ("team", "team/"),
        ("member-add", "team/add/"),
    ]:
        response = alice.goto(f"{dashboard}{path}")
        assert response.status == 200, path
        _check(alice, console, PHONE["width"], f"{name}-375")
