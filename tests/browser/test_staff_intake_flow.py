"""A responder takes a report in person on a phone with JavaScript off: the
form fits the screen, every control is a 44px tap target, a draft is saved
and resumed, and the receipt is shown large, and printed without the menus."""

import pytest
from playwright.sync_api import expect

from ombud.cases.models import Case

from .conftest import PHONE
from .test_report_flow import assert_fits_width, assert_no_csp_violations, assert_strict_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TAP = 44


def small_controls(page) -> list[str]:
    """Buttons, links in lists, text inputs and selects in the page's main
    part that are less than 44px tall (checkboxes count by their label row)."""
    return page.evaluate(
        """(tap) => [...document.querySelectorAll(
            'main button, main select, main textarea, main .drafts a, '
            + 'main input:not([type=checkbox]):not([type=radio]):not([type=hidden]), '
            + 'main fieldset.choices label, main .field.check label'
        )].filter(e => e.getBoundingClientRect().height < tap)
          .map(e => e.outerHTML.slice(0, 80))""",
        TAP,
    )


def test_take_a_report_on_a_phone(live_server, people, staff_page, console):
    page = staff_page(people.bob, viewport=PHONE, java_script_enabled=False)
    response = page.goto(f"{live_server.url}/org-a/staff/")
    page.get_by_role("link", name="New report (in person)").click()
    assert page.url.endswith("/org-a/staff/intake/")
    response = page.reload()
    assert response.status == 200
    assert_strict_page(response)
    assert_fits_width(page, PHONE["width"])
    assert small_controls(page) == []

    page.get_by_label("Event").select_option(label="PyConf A")
    page.get_by_label("What happened?").fill("Cornered near the coat check.")
    page.get_by_label("Where did it happen?").fill("Coat check")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".messages")).to_contain_text("Draft saved")
    expect(page.get_by_label("Where did it happen?")).to_have_value("Coat check")
    expect(page.get_by_label("Event")).to_have_value("pyconf")
    assert_fits_width(page, PHONE["width"])

    page.get_by_label("The reporter wants to stay anonymous").check()
    page.get_by_label("This is happening now or still ongoing").check()
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_role("heading", name="Save your receipt now")).to_be_visible()
    assert_fits_width(page, PHONE["width"])
    code = page.locator(".receipt .code")
    assert float(code.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 24
    case = Case.objects.get()
    assert case.urgent and case.channel == "in_person"

    # Printed: the receipt alone, large; no navigation and nothing for staff.
    page.emulate_media(media="print")
    expect(page.locator("header.site")).to_be_hidden()
    expect(page.get_by_role("link", name=f"open case #{case.number}")).to_be_hidden()
    expect(page.locator(".receipt")).to_be_visible()
    expect(page.locator("main")).to_contain_text("PyConf A")
    expect(page.get_by_role("heading", name="Your report to Org A")).to_be_visible()
    page.emulate_media(media="screen")
    page.get_by_role("link", name=f"open case #{case.number}").click()
    expect(page.get_by_role("heading", name=f"Case #{case.number}")).to_be_visible()
    assert_no_csp_violations(console)
