"""Every outgoing email is made from templates/email/<name>.subject.txt and
<name>.txt by `email_render`: each template renders, its subject is one line
whatever the context holds, and no module builds an email's text itself."""

import ast
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.template import Engine

from ombud.notify.models import OutboxMessage
from ombud.notify.sealing import outbox_open
from ombud.notify.services import email_render, email_send

TEMPLATE_DIR = Path(settings.BASE_DIR) / "templates" / "email"
SOURCE_DIR = Path(settings.BASE_DIR) / "ombud"
TEMPLATES = sorted(
    path.name.removesuffix(".subject.txt") for path in TEMPLATE_DIR.glob("*.subject.txt")
)
CONTENT = "CONTENT-MARKER-5e1d what the reporter or a responder wrote"
HOSTILE = "A\r\nBcc: x@example.org"

# Functions whose `subject` and `body` become an email.
EMAIL_CALLS = {"outbox_email", "notify_user", "_email_holders"}


def context(text: str = "Text") -> dict:
    """One context with every name the templates use, each optional part on."""
    organisation = SimpleNamespace(name=f"Org {text}", full_content_email=True)
    event = SimpleNamespace(name=f"Event {text}")
    case = SimpleNamespace(number=1234, event=event, organisation=organisation)
    return {
        "actor": f"Alice {text}",
        "address": f"team-{text}@example.org",
        "body": CONTENT,
        "case": case,
        "date": datetime(2026, 6, 1, 10, 0, tzinfo=UTC),
        "due": "Mon 01 Jun 10:00 CEST",
        "event": event,
        "full_content": CONTENT,
        "head": "org-a:12:" + "0" * 64,
        "headline": f"New report {text}",
        "hours": 72,
        "intact": True,
        "location": f"Hall {text}",
        "organisation": organisation,
        "organisation_name": f"Org {text}",
        "page_round": 2,
        "reason": f"not parsable {text}",
        "receipt": "ABCD-EFGH-IJKL",
        "tag": "K7Q2ZX",
        "team_email": "team@example.org",
        "url": "https://ombud.example/x/?a=1&b=2",
        "waited": 10,
    }


def test_the_templates_come_in_pairs():
    assert len(TEMPLATES) >= 10
    bodies = {path.name.removesuffix(".txt") for path in TEMPLATE_DIR.glob("*.txt")}
    assert bodies - {f"{name}.subject" for name in TEMPLATES} == set(TEMPLATES)


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_renders_a_one_line_subject_and_a_body(template):
    subject, body = email_render(template, context())
    assert subject and subject == subject.strip()
    assert "\n" not in subject and "\r" not in subject
    assert body.strip()
    # Plain text: nothing is HTML-escaped.
    assert "&amp;" not in body


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_uses_only_names_it_is_given(template):
    """A misspelt name would render as nothing in production; here it shows."""
    strict = Engine(dirs=[TEMPLATE_DIR], autoescape=False, string_if_invalid="<MISSING %s>")
    for name in (f"{template}.subject.txt", f"{template}.txt"):
        assert "<MISSING" not in strict.render_to_string(name, context())


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_subject_stays_one_line_whatever_the_context_holds(template):
    subject, _ = email_render(template, context(HOSTILE))
    assert "\r" not in subject and "\n" not in subject
    assert all(ch.isprintable() for ch in subject)


def test_an_organisation_name_cannot_add_a_header(db):
    organisation = SimpleNamespace(name=HOSTILE)
    email_send(
        to="reporter@example.org",
        template="receipt_renewal",
        context={"organisation": organisation, "url": "https://ombud.example/r"},
    )
    payload = outbox_open(OutboxMessage.objects.get())
    assert payload["subject"] == "[A Bcc: x@example.org] A new receipt for your report"


@pytest.mark.parametrize(
    "template", sorted(set(TEMPLATES) - {"reported_person_message", "reporter_new_message"})
)
def test_content_free_emails_say_nothing_of_the_content(template):
    _, body = email_render(template, context())
    assert CONTENT not in body


def test_the_reporter_gets_the_text_only_when_it_is_given():
    with_text = email_render("reporter_new_message", context())[1]
    assert with_text.endswith(f"--- The message ---\n\n{CONTENT}\n")
    without = email_render("reporter_new_message", {**context(), "full_content": ""})[1]
    assert CONTENT not in without and "--- The message ---" not in without
    assert without.endswith("the link above is the safer way.\n")
    bare = email_render(
        "reporter_new_message", {**context(), "full_content": "", "team_email": ""}
    )[1]
    assert bare.endswith("\nhttps://ombud.example/x/?a=1&b=2\n")


def test_a_message_to_the_reported_person_is_sent_as_written():
    text = "Dear X,\n\nwe would like to talk to you.\n\n  -- The team  "
    assert email_render("reported_person_message", {**context(), "body": text})[1] == text


def test_a_page_shows_the_location_only_when_given():
    _, body = email_render("page_urgent", context())
    assert "\n\nLocation: Hall Text\nCase 1234: https://" in body
    _, body = email_render("page_urgent", {**context(), "location": ""})
    assert "Location" not in body and "\n\nCase 1234: https://" in body


# --- no email text outside the templates -------------------------------------------


def _sources():
    for path in sorted(SOURCE_DIR.rglob("*.py")):
        if "tests" not in path.relative_to(SOURCE_DIR).parts:
            yield path, ast.parse(path.read_text(), filename=str(path))


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _from_template(name: str, function: ast.AST) -> bool:
    """Whether every value `name` gets in `function` is a parameter passed on
    or comes from `email_render(...)`."""
    args = function.args
    parameters = {a.arg for a in args.args + args.kwonlyargs + args.posonlyargs}
    assigned = False
    for node in ast.walk(function):
        if (
            isinstance(node, ast.AugAssign | ast.AnnAssign)
            and getattr(node.target, "id", "") == name
        ):
            return False
        if not isinstance(node, ast.Assign):
            continue
        targets = [
            element
            for target in node.targets
            for element in (target.elts if isinstance(target, ast.Tuple) else [target])
        ]
        if any(getattr(t, "id", "") == name for t in targets):
            assigned = True
            if not (isinstance(node.value, ast.Call) and _call_name(node.value) == "email_render"):
                return False
    return assigned or name in parameters


def _email_text_builders():
    """(where, what) for each email whose subject or body is not a template's."""
    found, checked = [], 0
    for path, tree in _sources():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for call in ast.walk(function):
                if not isinstance(call, ast.Call) or _call_name(call) not in EMAIL_CALLS:
                    continue
                for keyword in call.keywords:
                    if keyword.arg not in ("subject", "body"):
                        continue
                    checked += 1
                    value = keyword.value
                    if not (isinstance(value, ast.Name) and _from_template(value.id, function)):
                        where = f"{path.relative_to(SOURCE_DIR.parent)}:{call.lineno}"
                        found.append((where, f"{keyword.arg}={ast.unparse(value)[:60]}"))
    return found, checked


def test_no_module_writes_an_email_itself():
    """New emails go through templates/email and `email_send` or `email_render`."""
    found, checked = _email_text_builders()
    assert checked >= 6  # the scan sees the calls it is meant to check
    assert found == []
