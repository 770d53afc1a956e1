import copy
import functools
from contextlib import contextmanager

import pytest


def pytest_configure(config):
    from django.conf import settings

    # Cheap Argon2 in tests, for the key derivation and (following it) the
    # password hash; production cost is in settings.OMBUD_ARGON2.
    settings.OMBUD_ARGON2 = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
    settings.SECURE_SSL_REDIRECT = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


TEST_COOKIES = {"SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False}


@pytest.fixture(autouse=True)
def _test_cookies(settings):
    for name, value in TEST_COOKIES.items():
        setattr(settings, name, value)


# --- data built once for many tests ---------------------------------------------------


class Kept:
    """Database rows (and the objects that stand for them) built once by
    `build()` and kept for many tests, as a fixture of theirs would be: the
    rows in a transaction that is rolled back when those tests are done, each
    test in a savepoint inside it (the `db` fixture), rolled back after it. So
    every test starts from the state `build()` left, as if it had built it.

    Each test gets its own deep copy of what `build()` returned (like Django's
    setUpTestData) and the mail outbox as `build()` left it. Everything else
    `build()` touches must be in the database (the cache is: a table).

    The data is kept while the tests that ask for it run one after another:
    before any other test, the transaction is rolled back (in
    `pytest_runtest_setup`, before its fixtures), and made again before the
    next test that asks for it."""

    alive: list = []  # the kept data of the running module

    def __init__(self, name, build, blocker):
        self.name, self.build, self.blocker = name, build, blocker
        self.atomic = None

    def hold(self):
        from django.core import mail
        from django.db import transaction
        from django.test.utils import override_settings

        assert self.atomic is None
        assert not any(k.atomic for k in Kept.alive), "one kept world at a time"
        with self.blocker.unblock():
            self.atomic = transaction.atomic()
            # As Django's TestCase marks its own: not a "durable" block's parent.
            self.atomic._from_testcase = True
            self.atomic.__enter__()
            try:
                outbox = getattr(mail, "outbox", [])
                before = list(outbox)
                with override_settings(**TEST_COOKIES):
                    self.data = self.build()
                self.outbox = outbox[len(before) :]
                outbox[:] = before
            except BaseException:
                self.release()
                raise

    def release(self):
        from django.db import transaction

        if self.atomic is None:
            return
        atomic, self.atomic = self.atomic, None
        self.data = self.outbox = None
        with self.blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)

    def copy(self):
        from django.core import mail
        from django.db import connection

        # The test's own savepoint (the `db` fixture) inside the kept transaction;
        # a transactional test would commit into it and flush it.
        assert self.atomic is not None and connection.savepoint_ids, (
            f"{self.name}: only for tests in a transaction (`db`, not `transactional_db`)"
        )
        data, outbox = copy.deepcopy((self.data, self.outbox))
        if hasattr(mail, "outbox"):
            mail.outbox[:] = outbox
        return data


@contextmanager
def kept(request, build):
    """For a module-scoped fixture: `build()` once, kept for the tests that ask
    for this fixture; they get the data from `Kept.copy()`, with `db`:

        @pytest.fixture(scope="module")
        def kept_world(request):
            with kept(request, world_build) as keeper:
                yield keeper

        @pytest.fixture
        def world(kept_world, db):
            return kept_world.copy()
    """
    request.getfixturevalue("django_db_setup")
    keeper = Kept(request.fixturename, build, request.getfixturevalue("django_db_blocker"))
    keeper.hold()
    Kept.alive.append(keeper)
    try:
        yield keeper
    finally:
        Kept.alive.remove(keeper)
        keeper.release()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    for keeper in Kept.alive:
        if keeper.name not in getattr(item, "fixturenames", ()):
            keeper.release()
    for keeper in Kept.alive:
        if keeper.name in getattr(item, "fixturenames", ()) and keeper.atomic is None:
            keeper.hold()


PASSWORD = "correct horse battery staple"  # noqa: S105 - the test cast's password


def browser(user=None, password=PASSWORD, ip="127.0.0.1"):
    """A fresh browser of its own (not the `client` fixture), logged in through
    the real login form when given a user, so its session holds the key."""
    from django.test import Client

    client = Client(REMOTE_ADDR=ip)
    if user is not None:
        response = client.post("/accounts/login/", {"username": user.email, "password": password})
        assert response.status_code == 302, "login failed"
    return client


@pytest.fixture
def people(db):
    """The cast every access test reads like a sentence with:
    alice chairs org A; bob and dave respond in org A; charlie chairs org B.

    Org A's recovery kit is split 2 of 3 among alice, bob and dave:
    `shares_a[name]` is each one's share, `kit_a` alice's and bob's entered
    together (what the kit forms take). Org B's is charlie's 1-of-1 share."""
    return people_create()


def people_create():
    """What the `people` fixture gives, for data built once (`kept`)."""
    from ombud.accounts.services import user_create
    from ombud.orgs.models import Event
    from ombud.orgs.services import organisation_create

    alice = user_create(email="alice@a.example", password=PASSWORD, display_name="Alice")
    bob = user_create(email="bob@a.example", password=PASSWORD, display_name="Bob")
    dave = user_create(email="dave@a.example", password=PASSWORD, display_name="Dave")
    charlie = user_create(email="charlie@b.example", password=PASSWORD, display_name="Charlie")
    org_a_new = organisation_create(name="Org A", slug="org-a", chair=alice, responders=[bob, dave])
    org_a = org_a_new.organisation
    shares_a = {share.trustee.display_name.lower(): share.text for share in org_a_new.shares}
    kit_a = "\n".join([shares_a["alice"], shares_a["bob"]])
    org_b_new = organisation_create(name="Org B", slug="org-b", chair=charlie)
    org_b, kit_b = org_b_new.organisation, org_b_new.shares[0].text
    event_a = Event.objects.create(
        organisation=org_a,
        name="PyConf A",
        slug="pyconf",
        emergency_number="112",
        crisis_line="+1 555 0100",
        venue_security="Desk in the lobby",
    )
    event_b = Event.objects.create(organisation=org_b, name="Meetup B", slug="meetup")

    class People:
        pass

    p = People()
    p.__dict__.update(
        alice=alice,
        bob=bob,
        dave=dave,
        charlie=charlie,
        org_a=org_a,
        org_b=org_b,
        kit_a=kit_a,
        kit_b=kit_b,
        shares_a=shares_a,
        event_a=event_a,
        event_b=event_b,
    )
    return p


@pytest.fixture
def login(client):
    """Log a user in through the real login form, so the session holds the
    sealed private key and the key cookie is set."""

    def do_login(user, password=PASSWORD):
        response = client.post("/accounts/login/", {"username": user.email, "password": password})
        assert response.status_code == 302, "login failed"
        return client

    return do_login


@pytest.fixture
def submit_report(client):
    """Submit through the public form; returns (case, receipt)."""
    return functools.partial(report_submit, client)


def report_submit(client, event, **fields):
    """What `submit_report` does, with the client given."""
    from ombud.cases.models import Case

    data = {"description": "Something happened.", "consent_public": "no", **fields}
    response = client.post(event.get_report_url(), data)
    assert response.status_code == 200, response.content[:2000]
    receipt = response.context["receipt"]
    return Case.objects.get(pk=response.context["case"].pk), receipt


@pytest.fixture
def smtp(settings):
    """A real SMTP server on a local port; Django's mail goes to it."""
    import logging

    from tests.support import notify as testing

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs addresses
    with testing.smtp_server(settings) as server:
        yield server


@pytest.fixture
def receiver(settings):
    """A local HTTP receiver for push channels (a self-hosted ntfy server on
    127.0.0.1, which needs OMBUD_PUSH_ALLOW_PRIVATE)."""
    from tests.support import notify as testing

    settings.OMBUD_PUSH_ALLOW_PRIVATE = True
    with testing.push_receiver() as receiver:
        yield receiver


@pytest.fixture
def dns(monkeypatch):
    """Fake DNS for push channels (tests.support.notify.fake_dns): a dict of
    name -> addresses; ntfy.sh and push.example.org are public."""
    from tests.support import notify as testing

    with testing.fake_dns(monkeypatch) as names:
        yield names


@pytest.fixture
def clock():
    """The worker's clock, moved forward by hand; real time keeps ticking."""
    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now(), tick=True) as traveller:
        yield traveller
