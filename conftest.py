import pytest


def pytest_configure(config):
    from django.conf import settings

    # Cheap Argon2 in tests, for the key derivation and (following it) the
    # password hash; production cost is in settings.OMBUD_ARGON2.
    settings.OMBUD_ARGON2 = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
    settings.SECURE_SSL_REDIRECT = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def _test_cookies(settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


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
    from ombud.cases.models import Case

    def do_submit(event, **fields):
        data = {"description": "Something happened.", "consent_public": "no", **fields}
        response = client.post(event.get_report_url(), data)
        assert response.status_code == 200, response.content[:2000]
        receipt = response.context["receipt"]
        return Case.objects.get(pk=response.context["case"].pk), receipt

    return do_submit


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
