"""Fuzzing every form and POST endpoint, public and staff (issue 12, "Fuzz").

Every POST route of the access matrix (test_access.ROUTES) gets requests made
by Hypothesis from the fields its page really has (read from the forms in
the HTML) and the matrix's sample data: arbitrary text with control
characters, huge values, wrong types (text for numbers, files for text, a
body in the wrong format), fields missing, repeated or unknown, and an XSS
and CRLF corpus. Whatever comes in:

- the answer is never a 5xx;
- no header carries a line break or a header of the sender's;
- a page never contains a corpus payload unescaped;
- a request that wrote nothing to the audit log (every write is audited)
  changed nothing stored, and a refused one (4xx) wrote nothing;
- mail it queued has a one-line subject and only our own headers.

Then the corpus goes through every text field once more, and every page that
shows what was stored (and every email it caused) must show it escaped.

Each route is one test of 25 examples, from the matrix's world (case 1 of
org A: dave excluded, erin recused, frank joined later); staff routes as
org A's chair, the reporter's portal with a receipt, the rest anonymous."""

import re
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest
from django.apps import apps
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import browser
from ombud.audit.models import AuditEvent
from ombud.audit.types import AuditType
from ombud.cases.tests.test_access import PUBLIC, ROUTES, _ids, _path, kept_world, world  # noqa: F401
from ombud.notify.models import OutboxMessage
from ombud.notify.sealing import outbox_open
from ombud.notify.tasks import _send_email

# --- what is sent ------------------------------------------------------------------------

XSS = [
    '<script>alert("fz1")</script>',
    '"><img src=x onerror=alert("fz2")>',
    "'><svg/onload=alert('fz3')>",
    "</textarea><b>fz4</b>",
    '<a href="javascript:alert(5)">fz5</a>',
]
CRLF = [
    "fz6\r\nX-Injected: fz6",
    "fz7\nBcc: fz7@example.org",
    "fz8\rSet-Cookie: fz8=1",
]
OTHER = ["{{ 7|add:7 }}{% now 'Y' %}", "\u202efz9\u0000\x1b[31m", "%0d%0aX-Injected:%20fz10", ""]
CORPUS = XSS + CRLF + OTHER
# A payload for the stored-XSS pass: short enough for most fields.
STORED = "fzS\"'><script>alert(1)</script><img src=x onerror=alert(2)>\r\nX-Injected: fzS"
STORED_RAW = ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>"]

texts = st.text(max_size=300)  # any code point but surrogates: control characters, NUL, RTL
huge = st.integers(5_000, 1_200_000).map(lambda n: "Ω" * (n // 2))  # past the 1 MB limit too
numbers = st.one_of(st.integers(-(2**70), 2**70), st.floats()).map(str)
files = st.binary(max_size=2000).map(lambda data: SimpleUploadedFile("fz.txt", data))


def _values(known: frozenset):
    plain = st.one_of(texts, st.sampled_from(CORPUS), numbers)
    if not known:
        return plain
    # The page's own values (choices, hidden ids) and the matrix's valid
    # sample, half the time, so that requests also get past the form.
    return st.one_of(plain, st.sampled_from(sorted(known)))


def _field(known: frozenset):
    value = _values(known)
    # None: the field is missing; a list: it is repeated.
    return st.one_of(st.none(), value, value, st.lists(value, min_size=2, max_size=3))


@st.composite
def post_data(draw, fields: dict[str, frozenset]):
    if draw(st.booleans(), label="near valid"):
        # The page's own values (the fields without one left out), but for
        # one field, which gets anything: past most of the form.
        body = {
            name: draw(st.sampled_from(sorted(known)), label=name)
            for name, known in fields.items()
            if known
        }
        if fields:
            odd = draw(st.sampled_from(sorted(fields)), label="odd field")
            body.pop(odd, None)
            if (value := draw(_field(frozenset()), label=odd)) is not None:
                body[odd] = value
    else:
        body = {
            name: value
            for name, known in fields.items()
            if (value := draw(_field(known), label=name)) is not None
        }
    body.update(draw(st.dictionaries(st.text(min_size=1, max_size=20), texts, max_size=2)))
    # Now and then one field gets a huge value (past the 1 MB limit too) or
    # a file where text is expected.
    odd = draw(st.sampled_from(["", "", "", "", "huge", "file"]))
    if odd and fields:
        name = draw(st.sampled_from(sorted(fields)))
        body[name] = draw(huge if odd == "huge" else files)
    return body


encodings = st.sampled_from(["multipart", "multipart", "multipart", "urlencoded", "raw"])
raw_bodies = st.tuples(
    st.binary(max_size=500), st.sampled_from(["application/json", "text/plain", "x/y; q=\r\n"])
)
addresses = st.ip_addresses(v=4).map(str)


# --- the forms a page has --------------------------------------------------------------


class FormFields(HTMLParser):
    """The fields of each form in a page: {action path: {name: values seen}}."""

    def __init__(self, page_path: str):
        super().__init__()
        self.page_path = page_path
        self.forms: dict[str, dict[str, set]] = {}
        self._form: dict[str, set] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            action = urlsplit(attrs.get("action") or self.page_path).path or self.page_path
            self._form = self.forms.setdefault(action, {})
        elif self._form is not None and tag in ("input", "textarea", "select", "button"):
            name = attrs.get("name")
            if not name or name == "csrfmiddlewaretoken":
                return
            values = self._form.setdefault(name, set())
            if attrs.get("value") is not None and attrs.get("type") != "password":
                values.add(attrs["value"])
            if attrs.get("type") == "checkbox":
                values.add("on")
            self._select = name if tag == "select" else None
        elif tag == "option" and self._form is not None and self._select:
            self._form[self._select].add(attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


# Where the form of a POST-only route is shown.
SOURCE_PAGES = {
    "member-role": "/org-a/staff/team/",
    "member-mfa-reset": "/org-a/staff/team/",
    "catalog-edit": "/org-a/staff/catalog/",
    "outbox-retry": "/org-a/staff/outbox/",
    "push-channel-remove": "/staff/profile/",
    "push-channel-test": "/staff/profile/",
    "portal-message": "/org-a/report/status/case/",
    "portal-addition": "/org-a/report/status/case/",
    "portal-consent": "/org-a/report/status/case/",
    "portal-leave": "/org-a/report/status/case/",
}
PORTAL = {"portal-case", "portal-message", "portal-addition", "portal-consent", "portal-leave"}
# Routes that end the client's session: each request from a fresh client.
SESSION_ENDING = {"logout", "portal-leave"}


def _source_page(name: str, path: str, ids: dict) -> str | None:
    route = ROUTES[name]
    if "GET" in route.methods:
        return path
    if name in SOURCE_PAGES:
        return SOURCE_PAGES[name]
    if path.startswith("/org-a/staff/cases/"):
        return f"/org-a/staff/cases/{ids['n']}/"
    return None


def form_fields(client, name: str, matrix) -> dict[str, frozenset]:
    """The fields the route's form has, with the values its page offers,
    plus the matrix's sample data."""
    ids, path = _ids(matrix), _path(matrix, ROUTES[name])
    fields: dict[str, set] = {}
    source = _source_page(name, path, ids)
    if source is not None:
        page = client.get(source)
        if page.status_code == 200 and "html" in page.get("Content-Type", ""):
            parser = FormFields(source)
            parser.feed(page.content.decode())
            fields = {k: set(v) for k, v in parser.forms.get(path, {}).items()}
    for key, value in (ROUTES[name].methods["POST"][1] or {}).items():
        for one in value if isinstance(value, list | tuple) else [value]:
            one = one.format(**ids) if isinstance(one, str) else one
            fields.setdefault(key.format(**ids), set()).add(one)
    return {k: frozenset(v) for k, v in fields.items()}


# --- what must hold after each request -------------------------------------------------

# Reading writes an audit event too; these alone store nothing else.
READ_EVENTS = {
    AuditType.CASE_CONTENT_READ,
    AuditType.ATTACHMENT_DOWNLOADED,
    AuditType.CONTENT_INTEGRITY_FAILED,
    AuditType.RECOVERY_KIT_SHOWN,
    AuditType.PORTAL_OPENED,
}
SNAPSHOT_APPS = {"orgs", "cases", "notify", "accounts", "mfa", "intake", "portal"}
# Tables of machinery (sessions, dedupe, throttles) and columns that change
# on a read.
SNAPSHOT_SKIP_MODELS = {"InboundMail", "PortalSession"}
SNAPSHOT_SKIP_FIELDS = {"updated_at", "last_login", "last_seen_at", "last_used_at"}


def snapshot() -> dict:
    """Every stored row that a request could change, by model."""
    rows = {}
    for model in apps.get_models():
        if model._meta.app_label not in SNAPSHOT_APPS or model.__name__ in SNAPSHOT_SKIP_MODELS:
            continue
        columns = [
            f.attname for f in model._meta.concrete_fields if f.name not in SNAPSHOT_SKIP_FIELDS
        ]
        rows[model.__name__] = [
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
            for row in model.objects.order_by("pk").values_list(*columns)
        ]
    return rows


def _changed(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after[name])


def _header_injected(name: str, value: str) -> bool:
    return "\r" in value or "\n" in value or name.lower() in ("x-injected", "bcc")


def check_response(response, *, sent: str) -> None:
    assert response.status_code < 500, f"{response.status_code} for {sent[:300]}"
    for name, value in response.items():
        assert not _header_injected(name, value), f"header {name}: {value!r}"
    if "html" in response.get("Content-Type", "") and not response.streaming:
        body = response.content.decode()
        for payload in XSS:
            assert payload not in body, f"unescaped in the page: {payload}"
        assert 'href="javascript:' not in body.lower()


def check_mail(after_pk: int) -> None:
    """Mail queued since `after_pk`: one-line subjects, our headers only,
    and it goes through Django's mail (which refuses a header with a line
    break) to the locmem outbox."""
    for message in OutboxMessage.objects.filter(pk__gt=after_pk, kind=OutboxMessage.Kind.EMAIL):
        payload = outbox_open(message)
        assert "\r" not in payload["subject"] and "\n" not in payload["subject"]
        for name, value in (payload.get("headers") or {}).items():
            assert not _header_injected(name, value), f"mail header {name}: {value!r}"
        mail.outbox.clear()
        _send_email(payload)
        [sent] = mail.outbox
        head = sent.message().as_string().split("\n\n", 1)[0]
        assert not re.search(r"^(X-Injected|Bcc|Set-Cookie):", head, re.MULTILINE | re.I), head


def _last_pk(model) -> int:
    return model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


# --- the clients --------------------------------------------------------------------------


@pytest.fixture
def fuzz(world, submit_report):  # noqa: F811 - the matrix's fixture
    """The matrix's world, a reporter's receipt for the portal, and a
    staff session."""
    _, receipt = submit_report(world.event_a, description="A report for the portal.")
    world.receipt = receipt
    world.chair = browser(world.alice)
    world.portal = Client()
    assert world.portal.post("/org-a/report/status/", {"receipt": receipt}).status_code == 302
    world.routes = {}  # each route's path and form fields, read once per test
    return world


def client_for(fz, name: str):
    if name in SESSION_ENDING:
        return Client()
    if name in PORTAL:
        return fz.portal
    return Client() if ROUTES[name].access == PUBLIC else fz.chair


def send(client, path: str, data: dict, encoding: str, raw: tuple[bytes, str], ip: str):
    client.defaults["REMOTE_ADDR"] = ip
    if encoding == "raw":
        return client.post(path, data=raw[0], content_type=raw[1])
    if encoding == "urlencoded":
        flat = {
            k: [x for x in (v if isinstance(v, list) else [v]) if isinstance(x, str)]
            for k, v in data.items()
        }
        return client.post(
            path, urlencode(flat, doseq=True), content_type="application/x-www-form-urlencoded"
        )
    return client.post(path, data)


POST_ROUTES = [name for name, route in ROUTES.items() if "POST" in route.methods]
FUZZ_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("name", POST_ROUTES)
@FUZZ_SETTINGS
@given(data=st.data())
def test_fuzzed_posts_never_fail_and_refusals_store_nothing(fuzz, name, data):
    client = client_for(fuzz, name)
    if name not in fuzz.routes:  # read once: the world changes as the examples run
        fuzz.routes[name] = (_path(fuzz, ROUTES[name]), form_fields(client, name, fuzz))
    path, fields = fuzz.routes[name]
    body = data.draw(post_data(fields), label="body")
    encoding = data.draw(encodings, label="encoding")
    raw = data.draw(raw_bodies, label="raw")
    ip = data.draw(addresses, label="ip")

    before, audit_before, mail_before = snapshot(), _last_pk(AuditEvent), _last_pk(OutboxMessage)
    response = send(client, path, body, encoding, raw, ip)

    sent = f"{encoding} {body!r}"[:2000]
    check_response(response, sent=sent)
    written = (
        set(AuditEvent.objects.filter(pk__gt=audit_before).values_list("type", flat=True))
        - READ_EVENTS
    )
    # What the examples reached (pytest --hypothesis-show-statistics).
    event(f"{response.status_code}{', stored' if written else ''}")
    if response.status_code >= 400:
        assert not written, f"refused with {response.status_code}, but audited {written}"
    if not written:
        changed = _changed(before, snapshot())
        assert not changed, f"stored without an audit event: {changed} for {sent}"
    check_mail(mail_before)


GET_ROUTES = [
    name for name, route in ROUTES.items() if "GET" in route.methods and name not in PORTAL
]
QUERY_NAMES = ["event", "status", "assignee", "page", "template", "next", "q", "scope", "member"]


@pytest.mark.parametrize("name", GET_ROUTES)
@settings(FUZZ_SETTINGS, max_examples=8)
@given(
    query=st.dictionaries(
        st.one_of(st.sampled_from(QUERY_NAMES), st.text(min_size=1, max_size=10)),
        st.one_of(texts, st.sampled_from(CORPUS), numbers),
        max_size=4,
    ),
    ip=addresses,
)
def test_fuzzed_query_strings_never_fail(fuzz, name, query, ip):
    client = client_for(fuzz, name)
    client.defaults["REMOTE_ADDR"] = ip
    if name not in fuzz.routes:
        fuzz.routes[name] = (_path(fuzz, ROUTES[name]), {})
    response = client.get(fuzz.routes[name][0], query)
    check_response(response, sent=repr(query))


# --- stored content is shown escaped, and mail headers stay ours --------------------------

# Pages that show what the POSTs stored: as the chair, and the reporter's portal.
SHOWN = [
    "/org-a/",
    "/org-a/pyconf/report/",
    "/org-a/staff/",
    "/org-a/staff/cases/{n}/",
    "/org-a/staff/events/",
    "/org-a/staff/team/",
    "/org-a/staff/catalog/",
    "/org-a/staff/settings/",
    "/org-a/staff/outbox/",
    "/org-a/staff/access/",
    "/org-a/staff/intake/",
    "/staff/profile/",
]


def test_the_corpus_through_every_text_field_is_shown_escaped(fuzz):
    """Each route's form is sent with the payload in every field that takes
    free text (the matrix's or the page's own value elsewhere); then every
    page that shows stored content, the portal and the mail it caused are
    checked."""
    mail_before = _last_pk(OutboxMessage)
    ids = _ids(fuzz)
    for name in POST_ROUTES:
        if name in SESSION_ENDING or name in ("member-remove", "recovery-rotate", "case-recuse"):
            continue
        client = client_for(fuzz, name)
        sample = {
            key.format(**ids): value.format(**ids) if isinstance(value, str) else value
            for key, value in (ROUTES[name].methods["POST"][1] or {}).items()
        }
        body = {}
        for field, values in form_fields(client, name, fuzz).items():
            offered = sorted(v for v in values if v)
            if field in TEXT_FIELDS:
                body[field] = STORED
            elif field in sample or offered:
                body[field] = sample.get(field, offered[0] if offered else "")
        check_response(client.post(_path(fuzz, ROUTES[name]), body), sent=f"{name} {body}")
    # An ongoing report pages the team: the event's name (now the payload,
    # if the event form took it) goes into a mail subject.
    Client().post(
        "/org-a/pyconf/report/",
        {"description": STORED, "urgent": "on", "consent_public": "no", "location": STORED},
    )

    pages = [(fuzz.chair, path.format(**ids)) for path in SHOWN]
    pages.append((fuzz.portal, "/org-a/report/status/case/"))
    stored_somewhere = False
    for client, path in pages:
        response = client.get(path)
        check_response(response, sent=path)
        html = response.content.decode()
        for raw in STORED_RAW:
            assert raw not in html, f"{path} shows {raw} unescaped"
        stored_somewhere |= "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert stored_somewhere, "the payload was stored nowhere: the test sends nothing"
    check_mail(mail_before)


# Fields that take free text, where the payload goes even when the page
# offers a value (a text input's current value).
TEXT_FIELDS = {
    "name",
    "display_name",
    "description",
    "location",
    "reported_name",
    "witnesses",
    "body",
    "text",
    "rationale",
    "statement",
    "attendees",
    "label",
    "crisis_line",
    "venue_security",
    "emergency_number",
    "non_emergency_number",
}
