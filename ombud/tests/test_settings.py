"""The settings an operator relies on without reading them: durable SQLite,
a clean `check --deploy`, a strict CSP the pages actually live within, the
session-key cookie, and secrets from the environment, files or generated once."""

import base64
import json
import os
import stat
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client

from conftest import PASSWORD
from ombud.accounts.keys import SESSION_FIELD
from ombud.accounts.services import user_private_key_unlock

BASE_DIR = settings.BASE_DIR
SECRET_ENV = ("SECRET_KEY", "SECRET_KEY_FILE", "OMBUD_PEPPER", "OMBUD_PEPPER_FILE")


# --- SQLite ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode_with_full_sync():
    if connection.vendor != "sqlite":
        pytest.skip(f"SQLite pragmas; this run uses {connection.vendor}")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 2  # FULL: an acknowledged report survives a power cut


# --- production checks ----------------------------------------------------------------


def run_python(args, *, env_extra, tmp_path, drop=SECRET_ENV):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.setdefault("OMBUD_VAR_DIR", str(tmp_path / "var"))
    env.update(env_extra)
    env["DJANGO_SETTINGS_MODULE"] = "ombud.settings"
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_in_production(tmp_path):
    production = {
        "DEBUG": "0",
        "SECRET_KEY": "p" * 20 + "-production-secret-key-0123456789-abcdefghij-" + "q" * 20,
        "OMBUD_PEPPER": "a-production-pepper-" * 3,
        "ALLOWED_HOSTS": "ombud.example.org",
        "SITE_ROOT": "https://ombud.example.org",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "DEFAULT_FROM_EMAIL": "ombud@example.org",
    }
    drop = (
        *SECRET_ENV,
        "DATABASE_URL",
        "SQLITE_PATH",
        "SECURE_COOKIES",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_PRELOAD",
    )
    result = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env_extra=production,
        tmp_path=tmp_path,
        drop=drop,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr


# --- CSP and the HTML living within it -----------------------------------------------


class InlineCode(HTMLParser):
    """Everything in a page that a strict CSP blocks or that loads from elsewhere."""

    def __init__(self):
        super().__init__()
        self.problems = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        where = f"<{tag} {attrs}>"
        if tag == "script" and not attrs.get("src"):
            self.problems.append(f"inline script: {where}")
        if tag == "style":
            self.problems.append(f"<style> element: {where}")
        if "style" in attrs:
            self.problems.append(f"style attribute: {where}")
        self.problems += [f"inline handler {a}: {where}" for a in attrs if a.startswith("on")]
        for name in ("src", "href", "action"):
            url = attrs.get(name) or ""
            if tag != "a" and url.startswith(("http:", "https:", "//")):
                self.problems.append(f"third-party resource: {where}")
            if url.strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL: {where}")


def policy(response) -> dict:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def page_requests(people, submit_report):
    """(description, client, method, path, data) for every kind of page."""
    case, receipt = submit_report(people.event_a)
    bob = Client()
    bob.post("/accounts/login/", {"username": people.bob.email, "password": PASSWORD})
    alice = Client()
    alice.post("/accounts/login/", {"username": people.alice.email, "password": PASSWORD})
    reporter = Client()
    reporter.post("/org-a/report/status/", {"receipt": receipt})
    anon = Client()
    report_url = people.event_a.get_report_url()
    case_url = f"/org-a/staff/cases/{case.number}/"
    return [
        ("home", anon, "get", "/", None),
        ("organisation home", anon, "get", "/org-a/", None),
        ("report form", anon, "get", report_url, None),
        ("report form with errors", anon, "post", report_url, {"description": ""}),
        ("receipt", anon, "post", report_url, {"description": "Something happened."}),
        ("too large", anon, "post", report_url, {"description": "x" * (1024 * 1024 + 1)}),
        ("not found", anon, "get", "/org-a/no-such-event/report/", None),
        ("login", anon, "get", "/accounts/login/", None),
        ("login failed", anon, "post", "/accounts/login/", {"username": "x", "password": "y"}),
        ("dashboard", bob, "get", "/org-a/staff/", None),
        ("case page", bob, "get", case_url, None),
        ("recuse page", bob, "get", f"{case_url}recuse/", None),
        ("events", alice, "get", "/org-a/staff/events/", None),
        ("event form", alice, "get", "/org-a/staff/events/new/", None),
        ("team", alice, "get", "/org-a/staff/team/", None),
        ("portal", anon, "get", "/org-a/report/status/", None),
        ("portal case", reporter, "get", "/org-a/report/status/case/", None),
    ]


def test_every_page_has_a_strict_csp_and_no_inline_code(people, submit_report):
    seen = set()
    for name, client, method, path, data in page_requests(people, submit_report):
        response = getattr(client, method)(path, data)
        assert response.status_code in (200, 400, 404), f"{name}: {response.status_code}"
        seen.add(response.status_code)
        csp = policy(response)
        header = response.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in header and "unsafe-eval" not in header, name
        assert csp["default-src"] == ["'none'"], name
        assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"], name
        assert csp["frame-ancestors"] == ["'none'"], name
        assert csp["form-action"] == ["'self'"], name
        parser = InlineCode()
        parser.feed(response.content.decode())
        assert parser.problems == [], f"{name} ({path}): {parser.problems}"
        assert b"<html" in response.content, f"{name} is not a page"
    assert seen == {200, 400, 404}


# --- the session-key cookie --------------------------------------------------------


def login_response(client, user):
    response = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return response


def test_key_cookie_is_httponly_strict_and_secure_when_cookies_are(client, people, settings):
    settings.SESSION_COOKIE_SECURE = True
    cookie = login_response(client, people.bob).cookies[settings.SESSION_KEY_COOKIE]
    assert settings.SESSION_KEY_COOKIE == "ombud_kk"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["secure"] is True
    # The absolute session limit; the 2-hour idle limit is kept server-side.
    assert int(cookie["max-age"]) == settings.OMBUD_SESSION_MAX_AGE
    assert len(base64.urlsafe_b64decode(cookie.value)) == 32


def test_logout_forgets_the_key_cookie(client, people):
    login_response(client, people.bob)
    response = client.post("/accounts/logout/")
    assert response.cookies[settings.SESSION_KEY_COOKIE].value == ""
    assert response.cookies[settings.SESSION_KEY_COOKIE]["max-age"] == 0


def test_session_table_alone_cannot_open_the_private_key(client, people, submit_report):
    case, _ = submit_report(people.event_a, description="Only with the key cookie.")
    response = login_response(client, people.bob)
    key_cookie = response.cookies[settings.SESSION_KEY_COOKIE].value
    session_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value

    # What the session table holds: the row, and what it decodes to.
    row = Session.objects.get(session_key=session_cookie)
    data = row.get_decoded()
    private_key = user_private_key_unlock(user=people.bob, password=PASSWORD)
    stored = row.session_data.encode() + json.dumps(data).encode()
    for form in (
        private_key,
        private_key.hex().encode(),
        base64.b64encode(private_key),
        base64.urlsafe_b64encode(private_key),
        key_cookie.encode(),
    ):
        assert form not in stored
    sealed = base64.b64decode(data[SESSION_FIELD])
    assert private_key not in sealed and len(sealed) > len(private_key)

    case_url = f"/org-a/staff/cases/{case.number}/"
    assert client.get(case_url).status_code == 200  # both cookies: the case opens

    # With the session cookie but without the key cookie (or a wrong one),
    # the case page asks to log in again instead of showing anything.
    for key_value in (None, base64.urlsafe_b64encode(b"\0" * 32).decode(), "garbage"):
        other = Client()
        other.cookies[settings.SESSION_COOKIE_NAME] = session_cookie
        if key_value is not None:
            other.cookies[settings.SESSION_KEY_COOKIE] = key_value
        response = other.get(case_url)
        assert response.status_code == 302, key_value
        assert response["Location"] == f"/accounts/login/?next={case_url}"
        assert b"Only with the key cookie." not in response.content
        # Still logged in: the dashboard works, only content needs the key.
        assert other.get("/org-a/staff/").status_code == 200


# --- secrets from env, files, or generated once ---------------------------------------

PRINT_SECRETS = (
    "-c",
    "import json; from django.conf import settings; "
    "print(json.dumps([settings.SECRET_KEY, settings.OMBUD_PEPPER]))",
)


def secrets_with(env, tmp_path):
    result = run_python(PRINT_SECRETS, env_extra=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_secrets_from_environment_variables(tmp_path):
    env = {"SECRET_KEY": "key-from-env", "OMBUD_PEPPER": "pepper-from-env"}
    assert secrets_with(env, tmp_path) == ["key-from-env", "pepper-from-env"]
    assert not (tmp_path / "var").exists() or not any((tmp_path / "var").iterdir())


def test_secrets_from_files(tmp_path):
    key_file, pepper_file = tmp_path / "key.txt", tmp_path / "pepper.txt"
    key_file.write_text("key-from-file\n")
    pepper_file.write_text("  pepper-from-file\n\n")
    env = {"SECRET_KEY_FILE": str(key_file), "OMBUD_PEPPER_FILE": str(pepper_file)}
    assert secrets_with(env, tmp_path) == ["key-from-file", "pepper-from-file"]
    # Nothing was generated beside them.
    assert not (tmp_path / "var").exists() or not any((tmp_path / "var").iterdir())


def test_variable_wins_over_file(tmp_path):
    key_file = tmp_path / "key.txt"
    key_file.write_text("key-from-file")
    env = {"SECRET_KEY": "key-from-env", "SECRET_KEY_FILE": str(key_file), "OMBUD_PEPPER": "p"}
    assert secrets_with(env, tmp_path)[0] == "key-from-env"


@pytest.mark.parametrize("problem", ["missing", "empty"])
def test_a_bad_secret_file_stops_start_up(tmp_path, problem):
    """A file named but missing or empty is an operator's mistake: fail loudly,
    never run with an empty or silently generated pepper."""
    pepper_file = tmp_path / "pepper.txt"
    if problem == "empty":
        pepper_file.write_text("\n")
    env = {"SECRET_KEY": "key", "OMBUD_PEPPER_FILE": str(pepper_file)}
    result = run_python(PRINT_SECRETS, env_extra=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert str(pepper_file) in result.stderr
    assert not (tmp_path / "var" / "ombud_pepper").exists()


def test_missing_secrets_are_generated_once_private_to_the_owner(tmp_path):
    var = tmp_path / "not" / "yet" / "there"
    env = {"OMBUD_VAR_DIR": str(var)}
    first = secrets_with(env, tmp_path)
    files = [var / "secret_key", var / "ombud_pepper"]
    assert [f.read_text().strip() for f in files] == first
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    secret_key, pepper = first
    assert len(secret_key) >= 50 and len(pepper) >= 50 and secret_key != pepper
    # The second start reuses them.
    assert secrets_with(env, tmp_path) == first
    # Another installation gets its own.
    other = secrets_with({"OMBUD_VAR_DIR": str(tmp_path / "other")}, tmp_path)
    assert set(other).isdisjoint(first)
