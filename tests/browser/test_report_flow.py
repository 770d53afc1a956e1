"""The reporter's path on a phone with JavaScript off, then the responders'.

A reporter in a hallway opens the event's report page on a phone, sees the
emergency numbers before anything else, reports and keeps the receipt. A
responder reads the case; a responder the reporter excluded never sees it.
"""

import re

import pytest
from playwright.sync_api import expect

from ombud.cases.models import Case

from .conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESCRIPTION = "Someone kept following me between talks and blocked the door. Ünïcødé ✓"
RECEIPT_SHAPE = re.compile(r"^[A-Z2-7]{4}(-[A-Z2-7]{2,4}){5,}$")


def assert_no_csp_violations(console):
    assert console.csp_violations() == [], console.messages


def assert_strict_page(response):
    """No inline script or style anywhere, and the CSP header is sent."""
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    html = response.text()
    assert "<script" not in html
    assert "style=" not in html
    assert "<style" not in html


def assert_fits_width(page, width):
    """Nothing is wider than the screen: no sideways scrolling on a phone.
    (Playwright's evaluate runs even with the page's JavaScript off.)"""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide at {width}px"


def test_report_on_a_phone_then_responders(live_server, people, phone_page, staff_page, console):
    page = phone_page
    response = page.goto(f"{live_server.url}{people.event_a.get_report_url()}")
    assert response.status == 200
    assert_strict_page(response)

    # Physical danger first: the emergency box is above the form and fully on
    # the first screen, with the event's numbers.
    emergency = page.locator("section.emergency")
    expect(emergency.get_by_role("heading", name="Is someone in physical danger?")).to_be_visible()
    expect(emergency).to_contain_text("112")
    expect(emergency).to_contain_text("+1 555 0100")
    expect(emergency).to_contain_text("Desk in the lobby")
    box = emergency.bounding_box()
    form_box = page.locator("form.report").bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"], box
    assert box["y"] + box["height"] <= form_box["y"], (box, form_box)
    expect(page.get_by_text("report it anyway")).to_be_visible()
    assert_fits_width(page, PHONE["width"])

    # Report: the description, a few optional fields, ongoing, and exclude dave.
    page.get_by_label("What happened?").fill(DESCRIPTION)
    page.get_by_label("This is happening now or still ongoing").check()
    page.get_by_label("Where did it happen?").fill("Room B, by the coffee")
    page.get_by_label("Clothing").fill("Green hoodie")
    page.get_by_label("Your email or phone").fill("reporter@example.org")
    page.get_by_role("group", name="Responders who must not see this report").get_by_label(
        "Dave"
    ).check()
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Send report").click()
    receipt_response = navigation.value
    assert receipt_response.status == 200
    assert_strict_page(receipt_response)

    # The receipt, with a clear "save it" step.
    expect(page.get_by_role("heading", name="Save your receipt now")).to_be_visible()
    code = page.locator(".receipt .code").inner_text().strip()
    assert RECEIPT_SHAPE.match(code), code
    expect(page.get_by_text("only once")).to_be_visible()
    expect(page.get_by_role("link", name="I have saved my receipt")).to_be_visible()
    assert_fits_width(page, PHONE["width"])
    code_box = page.locator(".receipt .code").bounding_box()
    assert code_box["x"] + code_box["width"] <= PHONE["width"], code_box

    case = Case.objects.get(event=people.event_a)
    assert case.urgent

    # Bob reads it at his desk.
    bob = staff_page(people.bob)
    dashboard = f"{live_server.url}/{people.org_a.slug}/staff/"
    response = bob.goto(dashboard)
    assert_strict_page(response)
    row = bob.locator("table.cases tbody tr", has_text=f"#{case.number}")
    expect(row).to_have_count(1)
    expect(row.locator(".badge.ongoing")).to_have_text(re.compile("ongoing", re.I))
    expect(row).to_contain_text("PyConf A")
    row.get_by_role("link", name=f"#{case.number}").click()
    expect(bob.get_by_role("heading", name=re.compile(f"Case #{case.number}"))).to_be_visible()
    expect(bob.locator("dl.report")).to_contain_text(DESCRIPTION)
    expect(bob.locator("dl.report")).to_contain_text("Green hoodie")
    expect(bob.locator("dl.report")).to_contain_text("Room B, by the coffee")
    expect(bob.get_by_role("link", name=re.compile("Recuse"))).to_be_visible()

    # Dave, excluded by the reporter, in a fresh context: no row, no page.
    dave = staff_page(people.dave)
    response = dave.goto(dashboard)
    assert response.status == 200
    expect(dave.get_by_role("heading", name="Cases")).to_be_visible()
    expect(dave.locator("table.cases tbody tr")).to_have_count(0)
    expect(dave.locator("main")).not_to_contain_text(f"#{case.number}")
    response = dave.goto(f"{dashboard}cases/{case.number}/")
    assert response.status == 404
    expect(dave.locator("body")).not_to_contain_text(DESCRIPTION)

    assert_no_csp_violations(console)


def test_empty_description_keeps_the_reporter_on_the_form(live_server, people, phone_page, console):
    page = phone_page
    page.goto(f"{live_server.url}{people.event_a.get_report_url()}")
    page.get_by_label("Where did it happen?").fill("Hallway")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Send report").click()
    assert navigation.value.status == 400
    # The problem is named on the first screen, under the emergency box, and
    # links to the field, where it is repeated.
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Nothing has been sent yet")
    link = summary.get_by_role("link", name="Please describe what happened")
    expect(link).to_have_attribute("href", "#id_description")
    box = summary.bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"], box
    expect(page.locator(".field.has-error .error")).to_have_text(
        "Please describe what happened, even briefly."
    )
    expect(page.get_by_label("What happened?")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Where did it happen?")).to_have_value("Hallway")
    assert not Case.objects.exists()
    assert_no_csp_violations(console)
