"""The whole conversation in a real browser: a reporter reports on a phone
and keeps the receipt, a responder replies, the reporter reads the reply with
the receipt and answers, and the responder sees the answer."""

import pytest
from playwright.sync_api import expect

from ombud.cases.models import Case

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_receipt_opens_a_two_way_conversation(live_server, people, phone_page, staff_page, console):
    reporter = phone_page
    reporter.goto(f"{live_server.url}{people.event_a.get_report_url()}")
    reporter.get_by_label("What happened?").fill("He kept interrupting me at the sprint table.")
    reporter.get_by_role("button", name="Send report").click()
    expect(reporter.get_by_role("heading", name="Save your receipt now")).to_be_visible()
    receipt = reporter.locator(".code").inner_text().strip()
    case = Case.objects.get()

    bob = staff_page(people.bob)
    bob.goto(f"{live_server.url}/org-a/staff/cases/{case.number}/")
    bob.get_by_label("Message to the reporter").fill("Thank you. Was anyone else at the table?")
    bob.get_by_role("button", name="Send to the reporter").click()
    expect(bob.get_by_text("Your message to the reporter was sent.")).to_be_visible()

    reporter.goto(f"{live_server.url}/org-a/report/status/")
    reporter.get_by_label("Your receipt").fill(receipt.lower())
    reporter.get_by_role("button", name="Open my report").click()
    expect(reporter.get_by_text("Thank you. Was anyone else at the table?")).to_be_visible()
    expect(reporter.get_by_text("He kept interrupting me at the sprint table.")).to_be_visible()
    reporter.get_by_label("Your message to the team").fill("Yes: Kim saw it.")
    reporter.get_by_role("button", name="Send message").click()
    expect(reporter.get_by_text("Your message was sent to the team.")).to_be_visible()
    assert reporter.evaluate("document.documentElement.scrollWidth") <= 375

    bob.reload()
    expect(bob.locator("ol.thread")).to_contain_text("Yes: Kim saw it.")
    assert console.csp_violations() == [], console.messages
