"""Who may open what: one matrix over every URL, method and kind of person.

Add every new URL to ROUTES: `test_every_named_url_is_in_the_matrix` fails
until you do, and the matrix then checks it for every actor below."""

from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from conftest import PASSWORD, browser
from ombud.accounts.services import user_create
from ombud.audit.models import AuditEvent
from ombud.cases.models import (
    Case,
    Decision,
    Exclusion,
    Grant,
    Message,
    Note,
    ReportedPersonMessage,
)
from ombud.orgs.models import Event, Invitation, Membership, Organisation, Role

MARKER = "ZQX-access-marker-4e1b"

# --- who ---------------------------------------------------------------------

ANONYMOUS = "anonymous"
OTHER_ORG = "other organisation's chair"
EXCLUDED = "responder excluded by the reporter"
RECUSED = "recused responder"
NO_GRANT = "responder who joined after the report"
GRANTED = "responder with a grant"
CHAIR = "chair"
ACTORS = [ANONYMOUS, OTHER_ORG, EXCLUDED, RECUSED, NO_GRANT, GRANTED, CHAIR]

# --- what they may do ----------------------------------------------------------

PUBLIC = "anyone"
LOGGED_IN = "any logged-in person"
MEMBER = "any member of the organisation"
CASE = "holders of a grant for the case"
CHAIR_ONLY = "the organisation's chair"

LOGIN = "redirect to login"


@dataclass(frozen=True)
class Route:
    path: str  # formatted with the world's ids: {n} case number, {membership} bob's
    access: str
    # method -> (status when allowed, POST data)
    methods: dict = field(default_factory=dict)


EVENT_POST = {
    "name": "PyConf A, renamed",
    "slug": "pyconf",
    "timezone": "UTC",
    "accepts_reports": "on",
    "emergency_number": "112",
}
NEW_EVENT_POST = {
    "name": "Sprint day",
    "slug": "sprints",
    "timezone": "UTC",
    "accepts_reports": "on",
}
SECOND_REPORT_POST = {"description": "A second report.", "consent_public": "no"}
REPLY_POST = {"body": "A reply to the reporter."}
NEW_MEMBER_POST = {"email": "newbie@a.example", "display_name": "Newbie", "role": "responder"}

ROUTES = {
    # public
    "home": Route("/", PUBLIC, {"GET": (200, None)}),
    "login": Route("/accounts/login/", PUBLIC, {"GET": (200, None), "POST": (200, {})}),
    "logout": Route("/accounts/logout/", PUBLIC, {"POST": (302, {})}),
    # forgotten password and invitations: the same answer for everyone, and a
    # dead link is refused whoever follows it
    "password-reset": Route(
        "/accounts/password/reset/",
        PUBLIC,
        {"GET": (200, None), "POST": (302, {"email": "nobody@example.org"})},
    ),
    "password-reset-done": Route("/accounts/password/reset/sent/", PUBLIC, {"GET": (200, None)}),
    "password-reset-confirm": Route(
        "/accounts/password/reset/Mg/bad-token/", PUBLIC, {"GET": (400, None), "POST": (400, {})}
    ),
    "password-reset-complete": Route(
        "/accounts/password/reset/complete/", PUBLIC, {"GET": (200, None)}
    ),
    "invitation-accept": Route(
        "/accounts/invitation/bm90LWEtdG9rZW4/", PUBLIC, {"GET": (404, None), "POST": (404, {})}
    ),
    "organisation-home": Route("/org-a/", PUBLIC, {"GET": (200, None)}),
    "report": Route(
        "/org-a/pyconf/report/",
        PUBLIC,
        {"GET": (200, None), "POST": (200, SECOND_REPORT_POST)},
    ),
    # staff
    "staff-home": Route("/staff/", LOGGED_IN, {"GET": (302, None)}),
    "dashboard": Route("/org-a/staff/", MEMBER, {"GET": (200, None)}),
    "case-detail": Route("/org-a/staff/cases/{n}/", CASE, {"GET": (200, None)}),
    "case-recuse": Route(
        "/org-a/staff/cases/{n}/recuse/", CASE, {"GET": (200, None), "POST": (302, {})}
    ),
    "event-list": Route("/org-a/staff/events/", CHAIR_ONLY, {"GET": (200, None)}),
    "event-create": Route(
        "/org-a/staff/events/new/", CHAIR_ONLY, {"GET": (200, None), "POST": (302, NEW_EVENT_POST)}
    ),
    "event-edit": Route(
        "/org-a/staff/events/pyconf/", CHAIR_ONLY, {"GET": (200, None), "POST": (302, EVENT_POST)}
    ),
    "team": Route("/org-a/staff/team/", CHAIR_ONLY, {"GET": (200, None)}),
    "member-add": Route(
        "/org-a/staff/team/add/",
        CHAIR_ONLY,
        {"GET": (200, None), "POST": (200, NEW_MEMBER_POST)},
    ),
    "member-role": Route(
        "/org-a/staff/team/{membership}/role/", CHAIR_ONLY, {"POST": (302, {"role": "responder"})}
    ),
    "member-remove": Route(
        "/org-a/staff/team/{membership}/remove/",
        CHAIR_ONLY,
        {"GET": (200, None), "POST": (200, {})},
    ),
    "catalog": Route(
        "/org-a/staff/catalog/",
        CHAIR_ONLY,
        {"GET": (200, None), "POST": (302, {"name": "A hug", "severity": "1"})},
    ),
    "catalog-edit": Route(
        "/org-a/staff/catalog/{response_type}/",
        CHAIR_ONLY,
        {"POST": (302, {"rt{response_type}-name": "Renamed", "rt{response_type}-severity": "2"})},
    ),
    "organisation-settings": Route(
        "/org-a/staff/settings/",
        CHAIR_ONLY,
        {
            "GET": (200, None),
            "POST": (302, {"escalation_minutes": "5", "meeting_hours": "24", "followup_days": "7"}),
        },
    ),
    "case-reply": Route("/org-a/staff/cases/{n}/reply/", CASE, {"POST": (302, REPLY_POST)}),
    # the outbox and a staff member's own profile (push channels)
    "outbox": Route("/org-a/staff/outbox/", CHAIR_ONLY, {"GET": (200, None)}),
    "outbox-retry": Route("/org-a/staff/outbox/retry/", CHAIR_ONLY, {"POST": (302, {})}),
    "profile": Route("/staff/profile/", LOGGED_IN, {"GET": (200, None), "POST": (400, {})}),
    "password-change": Route(
        "/staff/profile/password/", LOGGED_IN, {"GET": (200, None), "POST": (400, {})}
    ),
    # nobody's channel: every logged-in person gets the same 404
    "push-channel-remove": Route(
        "/staff/profile/push/999999/remove/", LOGGED_IN, {"POST": (404, {})}
    ),
    "push-channel-test": Route("/staff/profile/push/999999/test/", LOGGED_IN, {"POST": (404, {})}),
    # the workflow actions on a case (400 where the POST is well-formed for the
    # matrix's purpose but names nothing that exists on the case)
    "case-acknowledge": Route("/org-a/staff/cases/{n}/acknowledge/", CASE, {"POST": (302, {})}),
    "case-status": Route(
        "/org-a/staff/cases/{n}/status/", CASE, {"POST": (302, {"status": "closed"})}
    ),
    "case-assign": Route("/org-a/staff/cases/{n}/assign/", CASE, {"POST": (302, {"assignee": ""})}),
    "case-urgent": Route("/org-a/staff/cases/{n}/urgent/", CASE, {"POST": (302, {})}),
    "case-flags": Route(
        "/org-a/staff/cases/{n}/flags/", CASE, {"POST": (302, {"retaliation_concern": "on"})}
    ),
    "case-note": Route("/org-a/staff/cases/{n}/note/", CASE, {"POST": (302, {"text": "A note"})}),
    "case-meeting": Route(
        "/org-a/staff/cases/{n}/meeting/", CASE, {"POST": (302, {"attendees": "Alice, Bob"})}
    ),
    "case-decision": Route(
        "/org-a/staff/cases/{n}/decision/",
        CASE,
        {"POST": (302, {"violation": "no", "rationale": "Nothing to act on."})},
    ),
    "case-approve": Route(
        "/org-a/staff/cases/{n}/approve/", CASE, {"POST": (400, {"decision": "nope"})}
    ),
    "case-response-done": Route(
        "/org-a/staff/cases/{n}/response-done/", CASE, {"POST": (400, {"response": "0"})}
    ),
    "case-reported-message": Route(
        "/org-a/staff/cases/{n}/reported-message/",
        CASE,
        {"POST": (302, {"to": "them@example.org", "body": "About the event."})},
    ),
    "case-reported-approve": Route(
        "/org-a/staff/cases/{n}/reported-approve/", CASE, {"POST": (400, {"message": "nope"})}
    ),
    "case-appeal": Route(
        "/org-a/staff/cases/{n}/appeal/", CASE, {"POST": (400, {"statement": "Unfair"})}
    ),
    # the reporter portal: staff accounts give no access to it, only a receipt does
    "portal-enter": Route(
        "/org-a/report/status/", PUBLIC, {"GET": (200, None), "POST": (404, {"receipt": "X"})}
    ),
    "portal-case": Route("/org-a/report/status/case/", PUBLIC, {"GET": (302, None)}),
    "portal-message": Route(
        "/org-a/report/status/case/message/", PUBLIC, {"POST": (302, {"body": "hi"})}
    ),
    "portal-addition": Route(
        "/org-a/report/status/case/addition/", PUBLIC, {"POST": (302, {"text": "more"})}
    ),
    "portal-consent": Route(
        "/org-a/report/status/case/consent/",
        PUBLIC,
        {"POST": (302, {"public_statement": "named", "may_contact": "on"})},
    ),
    "portal-leave": Route("/org-a/report/status/leave/", PUBLIC, {"POST": (302, {})}),
    "portal-lost": Route(
        "/org-a/report/status/lost/",
        PUBLIC,
        {"GET": (200, None), "POST": (200, {"email": "someone@example.org"})},
    ),
    "portal-renew": Route(
        "/org-a/report/status/renew/bm90LWEtdG9rZW4/",
        PUBLIC,
        {"GET": (404, None), "POST": (404, {})},
    ),
    # a file sent with the report ({attachment}): a download for grant holders only
    "case-attachment": Route(
        "/org-a/staff/cases/{n}/attachments/{attachment}/", CASE, {"GET": (200, None)}
    ),
    # access grants ({frank}: the member who joined after the report) and the
    # chair's recovery kit ({kit}: org A's real kit, so the chair succeeds)
    "case-grant": Route(
        "/org-a/staff/cases/{n}/grant/",
        CASE,
        {"GET": (200, None), "POST": (302, {"member": "{frank}", "scope": "case"})},
    ),
    "access-pending": Route("/org-a/staff/access/", MEMBER, {"GET": (200, None)}),
    "recovery-restore": Route(
        "/org-a/staff/recovery/restore/",
        CHAIR_ONLY,
        {
            "GET": (200, None),
            "POST": (302, {"form": "grant", "kit": "{kit}", "member": "{frank}", "scope": "all"}),
        },
    ),
    "recovery-kit": Route(
        "/org-a/staff/recovery/kit/",
        CHAIR_ONLY,
        {"GET": (200, None), "POST": (200, {"kit": "{kit}"})},
    ),
    "recovery-rotate": Route(
        "/org-a/staff/recovery/rotate/",
        CHAIR_ONLY,
        {"GET": (200, None), "POST": (200, {"kit": "{kit}"})},
    ),
    # taking a report in person (drafts: nobody's, so every member gets the same 404)
    "intake-report": Route(
        "/org-a/staff/intake/",
        MEMBER,
        {"GET": (200, None), "POST": (200, {"event": "pyconf", "description": "In person."})},
    ),
    "intake-draft": Route(
        "/org-a/staff/intake/drafts/00000000-0000-0000-0000-000000000000/",
        MEMBER,
        {"GET": (404, None), "POST": (404, {"event": "pyconf", "action": "draft"})},
    ),
    "intake-draft-delete": Route(
        "/org-a/staff/intake/drafts/00000000-0000-0000-0000-000000000000/delete/",
        MEMBER,
        {"POST": (404, {})},
    ),
    # two-factor authentication: the login step, allauth's pages, the chair's reset
    "account_login": Route(
        "/accounts/login/continue/", PUBLIC, {"GET": (302, None), "POST": (302, {})}
    ),
    "login-mfa": Route(
        "/accounts/login/two-factor/", PUBLIC, {"GET": (302, None), "POST": (302, {})}
    ),
    "login-mfa-cancel": Route("/accounts/login/two-factor/cancel/", PUBLIC, {"POST": (302, {})}),
    "mfa_index": Route("/accounts/mfa/", LOGGED_IN, {"GET": (200, None)}),
    "mfa_reauthenticate": Route(
        "/accounts/mfa/reauthenticate/", LOGGED_IN, {"GET": (302, None), "POST": (302, {})}
    ),
    "mfa_activate_totp": Route(
        "/accounts/mfa/totp/activate/", LOGGED_IN, {"GET": (200, None), "POST": (200, {})}
    ),
    "mfa_deactivate_totp": Route(
        "/accounts/mfa/totp/deactivate/", LOGGED_IN, {"GET": (404, None), "POST": (404, {})}
    ),
    "mfa_view_recovery_codes": Route(
        "/accounts/mfa/recovery-codes/", LOGGED_IN, {"GET": (404, None)}
    ),
    "mfa_generate_recovery_codes": Route(
        "/accounts/mfa/recovery-codes/generate/",
        LOGGED_IN,
        {"GET": (200, None), "POST": (200, {})},
    ),
    "mfa_download_recovery_codes": Route(
        "/accounts/mfa/recovery-codes/download/",
        LOGGED_IN,
        {"GET": (404, None), "POST": (404, {})},
    ),
    "mfa_list_webauthn": Route("/accounts/mfa/webauthn/", LOGGED_IN, {"GET": (200, None)}),
    "mfa_add_webauthn": Route(
        "/accounts/mfa/webauthn/add/", LOGGED_IN, {"GET": (200, None), "POST": (200, {})}
    ),
    "mfa_reauthenticate_webauthn": Route(
        "/accounts/mfa/webauthn/reauthenticate/",
        LOGGED_IN,
        {"GET": (302, None), "POST": (302, {})},
    ),
    "mfa_remove_webauthn": Route(
        "/accounts/mfa/webauthn/keys/999999/remove/",
        LOGGED_IN,
        {"GET": (404, None), "POST": (404, {})},
    ),
    "mfa_edit_webauthn": Route(
        "/accounts/mfa/webauthn/keys/999999/edit/",
        LOGGED_IN,
        {"GET": (404, None), "POST": (404, {})},
    ),
    "account_reauthenticate": Route(
        "/accounts/reauthenticate/", LOGGED_IN, {"GET": (200, None), "POST": (200, {})}
    ),
    # Off unless OMBUD_MAIL_INTAKE=webhook (then unsigned posts get 400: test_webhook).
    "mailgun-inbound": Route("/anymail/mailgun/inbound_mime/", PUBLIC, {"POST": (404, {})}),
    "member-mfa-reset": Route(
        "/org-a/staff/team/{membership}/mfa-reset/", CHAIR_ONLY, {"POST": (302, {})}
    ),
}


def expected(access: str, actor: str, ok: int):
    """The answer an actor gets: `ok`, LOGIN, 403 or 404."""
    if access == PUBLIC:
        return ok
    if actor == ANONYMOUS:
        return LOGIN
    if access == LOGGED_IN:
        return ok
    if actor == OTHER_ORG:
        return 404  # another organisation's staff learn nothing, not even that it exists
    if access == MEMBER:
        return ok
    if access == CASE:
        return ok if actor in (GRANTED, CHAIR) else 404
    if access == CHAIR_ONLY:
        return ok if actor == CHAIR else 403
    raise AssertionError(access)


MATRIX = [
    pytest.param(name, method, actor, id=f"{method} {name} as {actor}")
    for name, route in ROUTES.items()
    for method in route.methods
    for actor in ACTORS
]


# --- the world -------------------------------------------------------------------


@pytest.fixture
def world(people, submit_report):
    """Case 1 of org A, reported with dave excluded; erin recused from it; frank
    joined the team afterwards. Its every field carries MARKER."""
    erin = user_create(email="erin@a.example", password=PASSWORD, display_name="Erin")
    Membership.objects.create(user=erin, organisation=people.org_a, role=Role.RESPONDER)
    case, _ = submit_report(
        people.event_a,
        description=f"{MARKER} in the description",
        location=f"{MARKER} hall",
        reported_name=f"{MARKER} name",
        attachments=[SimpleUploadedFile(f"{MARKER}.txt", f"{MARKER} in a file".encode())],
        exclude=[str(people.dave.pk)],
    )
    response = browser(erin).post(f"/org-a/staff/cases/{case.number}/recuse/")
    assert response.status_code == 302
    frank = user_create(email="frank@a.example", password=PASSWORD, display_name="Frank")
    Membership.objects.create(user=frank, organisation=people.org_a, role=Role.RESPONDER)

    people.case = case
    people.erin = erin
    people.frank = frank
    people.actors = {
        ANONYMOUS: None,
        OTHER_ORG: people.charlie,
        EXCLUDED: people.dave,
        RECUSED: erin,
        NO_GRANT: frank,
        GRANTED: people.bob,
        CHAIR: people.alice,
    }
    people.case_url = f"/org-a/staff/cases/{case.number}/"
    people.recuse_url = f"/org-a/staff/cases/{case.number}/recuse/"
    return people


def _ids(world) -> dict:
    return {
        "n": world.case.number,
        "membership": Membership.objects.get(user=world.bob, organisation=world.org_a).pk,
        "response_type": world.org_a.response_types.first().pk,
        "frank": world.frank.pk,
        "kit": world.kit_a,
        "attachment": world.case.attachments.get().pk,
    }


def _path(world, route: Route) -> str:
    return route.path.format(**_ids(world))


def _request(client, method, path, data, world=None):
    if method == "GET":
        return client.get(path)
    ids = _ids(world) if world is not None else {}
    return client.post(
        path,
        {
            k.format(**ids): v.format(**ids) if isinstance(v, str) else v
            for k, v in (data or {}).items()
        },
    )


# --- the matrix --------------------------------------------------------------------


def test_the_case_is_set_up_as_the_matrix_assumes(world):
    holders = set(Grant.objects.filter(case=world.case).values_list("user__email", flat=True))
    assert holders == {"alice@a.example", "bob@a.example"}
    assert set(Exclusion.objects.filter(case=world.case).values_list("user__email", "reason")) == {
        ("dave@a.example", "excluded"),
        ("erin@a.example", "recused"),
    }


@pytest.mark.parametrize(("name", "method", "actor"), MATRIX)
def test_access_matrix(world, name, method, actor):
    route = ROUTES[name]
    ok, data = route.methods[method]
    want = expected(route.access, actor, ok)
    client = browser(world.actors[actor])
    audit_before = AuditEvent.objects.count()

    response = _request(client, method, _path(world, route), data, world)

    body = response.content.decode()
    if want == LOGIN:
        assert response.status_code == 302
        # allauth's pages go through /accounts/login/continue/, a redirect to login.
        assert response["Location"].startswith(
            ("/accounts/login/?next=", "/accounts/login/continue/?next=")
        )
    else:
        assert response.status_code == want, body[:500]
        if response.status_code == 302 and route.access != PUBLIC:
            assert not response["Location"].startswith("/accounts/login/")
    if want in (LOGIN, 403, 404):
        # A refused request changes nothing: every write is audited, so no new event.
        assert AuditEvent.objects.count() == audit_before
    if want == 404 and route.access != PUBLIC:
        assert "Not found" in body
    if want == 403:
        assert "You are not allowed to do this" in body

    # Report content reaches only those entitled to it: always on their case page,
    # and on a case page re-rendered with a form error; never for anyone refused.
    if want in (LOGIN, 403, 404) or route.access != CASE:
        assert MARKER not in body
    if name == "case-detail" and want == 200:
        assert MARKER in body


REFUSED_WRITES = [
    p
    for p in MATRIX
    if p.values[1] == "POST"
    and ROUTES[p.values[0]].access != PUBLIC
    and expected(ROUTES[p.values[0]].access, p.values[2], 0) != 0
]


@pytest.mark.parametrize(("name", "method", "actor"), REFUSED_WRITES)
def test_refused_writes_change_nothing(world, name, method, actor):
    """What a refused POST would have done did not happen."""
    route = ROUTES[name]
    _request(
        browser(world.actors[actor]), method, _path(world, route), route.methods[method][1], world
    )
    assert Event.objects.get(pk=world.event_a.pk).name == "PyConf A"
    assert not Event.objects.filter(slug="sprints").exists()
    assert not Membership.objects.filter(user__email="newbie@a.example").exists()
    assert not Invitation.objects.exists()
    assert Membership.objects.get(user=world.bob, organisation=world.org_a).role == "responder"
    assert Grant.objects.filter(case=world.case, user=world.bob).exists()
    assert Grant.objects.filter(case=world.case, user=world.alice).exists()
    assert not Message.objects.filter(case=world.case).exists()
    assert not Note.objects.filter(case=world.case).exists()
    assert not ReportedPersonMessage.objects.filter(case=world.case).exists()
    assert not Decision.objects.filter(case=world.case).exists()
    case = Case.objects.get(pk=world.case.pk)
    assert (case.status, case.urgent, case.acknowledged_at, case.retaliation_concern) == (
        "new",
        False,
        None,
        False,
    )


ORG_STAFF = [
    pytest.param(name, method, id=f"{method} {name}")
    for name, route in ROUTES.items()
    for method in route.methods
    if route.access in (MEMBER, CASE, CHAIR_ONLY)
]


@pytest.mark.parametrize(("name", "method"), ORG_STAFF)
def test_required_mfa_holds_back_every_staff_url(world, name, method):
    """With the organisation requiring two-factor authentication, the chair
    and a responder with a grant, neither with an authenticator, are sent to
    set one up from every staff URL and method; nothing is shown or changed."""
    Organisation.objects.filter(pk=world.org_a.pk).update(require_mfa=True)
    route = ROUTES[name]
    for actor in (GRANTED, CHAIR):
        audit_before = AuditEvent.objects.count()
        response = _request(
            browser(world.actors[actor]),
            method,
            _path(world, route),
            route.methods[method][1],
            world,
        )
        assert response.status_code == 302, f"{actor}: {response.status_code}"
        assert response["Location"] == "/accounts/mfa/", actor
        assert MARKER not in response.content.decode()
        assert AuditEvent.objects.count() == audit_before


def _named_patterns(resolver=None):
    resolver = resolver or get_resolver("ombud.urls")
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _named_patterns(pattern)
        elif isinstance(pattern, URLPattern):
            yield pattern.name or f"<unnamed: {pattern.pattern}>"


def test_every_named_url_is_in_the_matrix():
    names = set(_named_patterns())
    missing = names - set(ROUTES)
    assert not missing, f"add these URLs to ROUTES in {__file__}: {sorted(missing)}"
    assert not set(ROUTES) - names, "ROUTES lists URLs that no longer exist"


def test_matrix_paths_reach_the_views_they_name(world):
    for name, route in ROUTES.items():
        assert resolve(_path(world, route)).url_name == name


# --- wrong methods -------------------------------------------------------------------

WRONG_METHODS = [
    pytest.param(name, method, id=f"{method} {name}")
    for name, route in ROUTES.items()
    for method in ("GET", "POST")
    if method not in route.methods and name != "login"
]


@pytest.mark.parametrize(("name", "method"), WRONG_METHODS)
def test_wrong_method_is_405(world, name, method):
    route = ROUTES[name]
    actor = CHAIR if route.access != PUBLIC else ANONYMOUS
    audit_before = AuditEvent.objects.count()
    response = _request(browser(world.actors[actor]), method, _path(world, route), {})
    assert response.status_code == 405
    assert AuditEvent.objects.count() == audit_before


def test_wrong_methods_cover_the_get_only_and_post_only_urls():
    covered = {p.values[0] for p in WRONG_METHODS}
    assert {"dashboard", "case-detail", "team", "event-list", "member-role", "logout"} <= covered


# --- the dashboard -----------------------------------------------------------------


@pytest.mark.parametrize("actor", [EXCLUDED, RECUSED, NO_GRANT])
def test_dashboard_hides_the_case_from_those_without_a_grant(world, actor):
    response = browser(world.actors[actor]).get("/org-a/staff/")
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["total"] == 0
    assert list(response.context["cases"]) == []
    assert all(n == 0 for _, n in response.context["counts"])
    assert "0 cases you can see" in html
    assert world.case_url not in html
    assert "#1" not in html


@pytest.mark.parametrize("actor", [GRANTED, CHAIR])
def test_dashboard_lists_the_case_for_those_with_a_grant(world, actor):
    response = browser(world.actors[actor]).get("/org-a/staff/")
    html = response.content.decode()
    assert response.context["total"] == 1
    assert "1 case you can see" in html
    assert world.case_url in html
    assert MARKER not in html


def test_other_organisation_sees_nothing_of_org_a_on_its_own_dashboard(world):
    response = browser(world.charlie).get("/org-b/staff/")
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["total"] == 0
    assert "/org-a/" not in html and "PyConf A" not in html


@pytest.mark.parametrize("actor", [EXCLUDED, RECUSED, NO_GRANT, OTHER_ORG])
def test_denied_case_looks_exactly_like_a_missing_one(world, actor):
    client = browser(world.actors[actor])
    denied = client.get(world.case_url)
    missing = client.get("/org-a/staff/cases/999/")
    assert denied.status_code == missing.status_code == 404
    assert denied.content == missing.content


def test_a_chair_excluded_by_the_reporter_cannot_open_the_case(people, submit_report):
    case, _ = submit_report(
        people.event_a, description=f"{MARKER} about the chair", exclude=[str(people.alice.pk)]
    )
    alice = browser(people.alice)
    response = alice.get(f"/org-a/staff/cases/{case.number}/")
    assert response.status_code == 404
    assert MARKER not in response.content.decode()
    assert alice.get("/org-a/staff/").context["total"] == 0
    # The team sees who is kept out, not why.
    html = browser(people.bob).get(f"/org-a/staff/cases/{case.number}/").content.decode()
    assert "Alice (excluded by the reporter)" in html


# --- recusal -----------------------------------------------------------------------


def test_recused_responder_loses_access_in_an_already_open_session(world):
    tab = browser(world.bob)
    response = tab.get(world.case_url)
    assert response.status_code == 200 and MARKER in response.content.decode()

    # Bob recuses from his phone; the tab on his laptop is still logged in.
    assert browser(world.bob).post(world.recuse_url).status_code == 302

    response = tab.get(world.case_url)
    assert response.status_code == 404
    assert MARKER not in response.content.decode()
    assert tab.get(world.recuse_url).status_code == 404
    dashboard = tab.get("/org-a/staff/")
    assert dashboard.status_code == 200, "the session itself is still valid"
    assert dashboard.context["total"] == 0


def test_recusal_in_the_same_tab_says_so_and_removes_the_case(world):
    tab = browser(world.bob)
    response = tab.post(world.recuse_url, follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [("/org-a/staff/", 302)]
    assert "You have recused yourself from case 1." in html
    assert world.case_url not in html
    assert tab.get(world.case_url).status_code == 404


def test_recusal_deletes_the_grant_and_records_an_exclusion(world):
    assert Grant.objects.filter(case=world.case, user=world.bob).exists()
    browser(world.bob).post(world.recuse_url)

    assert not Grant.objects.filter(case=world.case, user=world.bob).exists()
    exclusion = Exclusion.objects.get(case=world.case, user=world.bob)
    assert exclusion.reason == Exclusion.Reason.RECUSED
    # The others keep their access and see who stepped away.
    assert Grant.objects.filter(case=world.case, user=world.alice).exists()
    html = browser(world.alice).get(world.case_url).content.decode()
    assert "Bob (recused)" in html


def test_recusal_confirmation_page_changes_nothing(world):
    response = browser(world.bob).get(world.recuse_url)
    assert response.status_code == 200
    assert "Recuse yourself from case #1?" in response.content.decode()
    assert Grant.objects.filter(case=world.case, user=world.bob).exists()
    assert not Exclusion.objects.filter(case=world.case, user=world.bob).exists()


# --- another organisation's objects through one's own URLs -------------------------


def test_chair_cannot_reach_another_organisations_objects_through_own_urls(world, submit_report):
    submit_report(world.event_b, description=f"{MARKER} in org B")
    submit_report(world.event_b, description=f"{MARKER} in org B, again")
    charlie_membership = Membership.objects.get(user=world.charlie, organisation=world.org_b)
    alice = browser(world.alice)

    assert alice.get("/org-a/staff/cases/2/").status_code == 404  # org B has a case 2
    assert alice.get("/org-a/staff/events/meetup/").status_code == 404  # org B's event
    response = alice.post(f"/org-a/staff/team/{charlie_membership.pk}/role/", {"role": "responder"})
    assert response.status_code == 404
    charlie_membership.refresh_from_db()
    assert charlie_membership.role == Role.CHAIR
    assert alice.get("/org-b/staff/cases/1/").status_code == 404
