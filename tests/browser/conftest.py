"""Browser tests: pytest-playwright driving Debian's chromium against
pytest-django's live server.

`playwright install` cannot download browsers here, so the browser is the
system chromium (`apt-get install chromium`). When it is missing, the tests
fail with an error saying so; they never skip.
"""

import os
import shutil

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session", autouse=True)
def _allow_orm_beside_playwright():
    """Playwright's sync API keeps an asyncio loop running in the test thread,
    which makes Django refuse ORM calls there ("cannot call this from an async
    context"). The tests are plain synchronous code, so the check is switched
    off for the rest of this session (the loop lives as long as the session)."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "chromium is not installed: run `apt-get install -y chromium` "
            "(the browser tests use Debian's chromium, not `playwright install`)",
            pytrace=False,
        )
    return {
        **browser_type_launch_args,
        "executable_path": executable,
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


class ConsoleWatch:
    """Collects console messages and page errors of every page it watches."""

    def __init__(self):
        self.messages = []

    def watch(self, page):
        page.on("console", lambda msg: self.messages.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: self.messages.append(f"pageerror: {exc}"))
        return page

    def csp_violations(self):
        return [m for m in self.messages if "Content Security Policy" in m]


@pytest.fixture
def console():
    return ConsoleWatch()


PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def phone_page(new_context, console):
    """A phone-sized page with JavaScript off, as a reporter in a hallway might have."""
    context = new_context(viewport=PHONE, java_script_enabled=False, is_mobile=True)
    return console.watch(context.new_page())


@pytest.fixture
def staff_page(new_context, live_server, console):
    """Returns a function: a fresh desktop browser context logged in as `user`."""
    from conftest import PASSWORD

    def open_as(user, *, viewport=DESKTOP, java_script_enabled=True):
        context = new_context(viewport=viewport, java_script_enabled=java_script_enabled)
        page = console.watch(context.new_page())
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        assert "/accounts/login/" not in page.url, f"login as {user.email} failed"
        return page

    return open_as
