"""What production (DEBUG off) refuses or sets on its own: mail printed to a
log, a pepper beside the database, a password hash cheaper than the key
derivation beside it, headers, the proxy's word on HTTPS, and private files."""

import json
import stat

import pytest
from django.test import Client

from ombud.tests.test_settings import page_requests, run_python

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "p" * 20 + "-production-secret-key-0123456789-abcdefghij-" + "q" * 20,
    "OMBUD_PEPPER": "a-production-pepper-" * 3,
    "ALLOWED_HOSTS": "ombud.example.org",
    "SITE_ROOT": "https://ombud.example.org",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "DEFAULT_FROM_EMAIL": "ombud@example.org",
}
# Variables of the developer's or CI's environment that would change the answer.
DROP = (
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "OMBUD_PEPPER",
    "OMBUD_PEPPER_FILE",
    "OMBUD_PEPPER_BESIDE_DATABASE",
    "EMAIL_BACKEND",
    "DEFAULT_FROM_EMAIL",
    "DATABASE_URL",
    "SQLITE_PATH",
    "OMBUD_TRUSTED_PROXY_COUNT",
    "OMBUD_ARGON2_TIME_COST",
    "OMBUD_ARGON2_MEMORY_KIB",
    "OMBUD_ARGON2_PARALLELISM",
)


def production(args, tmp_path, **env):
    """Run with the production environment; a variable given as "" is unset."""
    merged = {**PRODUCTION, **env}
    unset = tuple(name for name, value in merged.items() if value == "")
    merged = {name: value for name, value in merged.items() if value != ""}
    return run_python(args, env_extra=merged, tmp_path=tmp_path, drop=DROP + unset)


def check(tmp_path, *extra, **env):
    return production(["manage.py", "check", *extra], tmp_path, **env)


def settings_of(tmp_path, expression, **env):
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "from django.contrib.auth.hashers import get_hasher; "
        f"print(json.dumps({expression}))"
    )
    result = production(["-c", code], tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- item 4: mail that would land in a log -------------------------------------------


MAIL_LEAKS = ("EMAIL_BACKEND", "one-time links")


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
    ],
)
def test_production_refuses_mail_printed_or_kept(tmp_path, backend):
    result = check(tmp_path, EMAIL_BACKEND=backend, EMAIL_FILE_PATH=str(tmp_path / "mail"))
    assert result.returncode != 0
    assert all(words in result.stderr for words in MAIL_LEAKS), result.stderr


def test_production_refuses_to_start_with_the_default_console_mail(tmp_path):
    for result in (
        check(tmp_path, "--deploy", EMAIL_BACKEND=""),
        production(["manage.py", "migrate", "--check"], tmp_path, EMAIL_BACKEND=""),
        # gunicorn runs no checks: loading the web app refuses too.
        production(["-c", "import ombud.wsgi"], tmp_path, EMAIL_BACKEND=""),
    ):
        assert result.returncode != 0
        assert all(words in result.stderr for words in MAIL_LEAKS), result.stderr


def test_development_may_print_mail(tmp_path):
    result = check(tmp_path, DEBUG="1", EMAIL_BACKEND="")
    assert result.returncode == 0, result.stderr


def test_check_deploy_warns_about_the_placeholder_sender(tmp_path):
    result = check(tmp_path, "--deploy", DEFAULT_FROM_EMAIL="")
    assert result.returncode == 0
    assert "DEFAULT_FROM_EMAIL" in result.stderr and "ombud@localhost" in result.stderr
    assert "check --deploy" not in result.stderr
    assert "WARNINGS" in result.stderr
    assert check(tmp_path, "--deploy").stderr == ""


# --- item 5: the pepper beside the SQLite database ---------------------------------------


def test_production_refuses_a_pepper_generated_beside_the_database(tmp_path):
    result = check(tmp_path, OMBUD_PEPPER="")
    assert result.returncode != 0
    assert "OMBUD_PEPPER" in result.stderr and "same directory" in result.stderr
    assert (tmp_path / "var" / "ombud_pepper").exists()
    # ... unless the operator says so, or it is development.
    assert check(tmp_path, OMBUD_PEPPER="", OMBUD_PEPPER_BESIDE_DATABASE="1").returncode == 0
    assert check(tmp_path, OMBUD_PEPPER="", DEBUG="1").returncode == 0


def test_production_refuses_a_pepper_file_beside_the_database(tmp_path):
    data, secrets = tmp_path / "data", tmp_path / "secrets"
    data.mkdir()
    secrets.mkdir()
    (data / "pepper").write_text("a-pepper-kept-somewhere-" * 3)
    (secrets / "pepper").write_text("a-pepper-kept-somewhere-" * 3)
    sqlite = str(data / "ombud.sqlite3")
    beside = check(
        tmp_path, OMBUD_PEPPER="", OMBUD_PEPPER_FILE=str(data / "pepper"), SQLITE_PATH=sqlite
    )
    assert beside.returncode != 0 and "same directory" in beside.stderr
    elsewhere = check(
        tmp_path, OMBUD_PEPPER="", OMBUD_PEPPER_FILE=str(secrets / "pepper"), SQLITE_PATH=sqlite
    )
    assert elsewhere.returncode == 0, elsewhere.stderr
    # A pepper given in the environment is in no directory; PostgreSQL has no file.
    assert check(tmp_path, SQLITE_PATH=sqlite).returncode == 0
    postgres = check(
        tmp_path, OMBUD_PEPPER="", DATABASE_URL="postgres://ombud@db.example.org:5432/ombud"
    )
    assert postgres.returncode == 0, postgres.stderr


# --- item 9: the password hash costs no less than the key derivation ------------------

HASHER_AND_KDF = (
    "[[get_hasher().time_cost, get_hasher().memory_cost, get_hasher().parallelism], "
    "[settings.OMBUD_ARGON2[k] for k in ('time_cost', 'memory_cost', 'parallelism')], "
    "get_hasher().algorithm]"
)


def test_the_password_hash_is_no_cheaper_than_the_key_derivation(tmp_path):
    (t, m, _), (kdf_t, kdf_m, _), algorithm = settings_of(tmp_path, HASHER_AND_KDF)
    assert algorithm == "argon2"
    assert t >= kdf_t >= 4 and m >= kdf_m >= 128 * 1024
    # Raising the key derivation's cost raises the password hash's with it.
    env = {"OMBUD_ARGON2_TIME_COST": "6", "OMBUD_ARGON2_MEMORY_KIB": str(256 * 1024)}
    (t, m, _), (kdf_t, kdf_m, _), _ = settings_of(tmp_path, HASHER_AND_KDF, **env)
    assert (t, m) == (kdf_t, kdf_m) == (6, 256 * 1024)


# --- item 10: headers on every response, and the proxy's word on HTTPS ---------------

DENIED = ("camera", "microphone", "geolocation", "payment", "usb", "serial", "bluetooth")


def test_every_response_has_a_permissions_policy_and_a_resource_policy(people, submit_report):
    requests = page_requests(people, submit_report)
    requests += [
        ("static file", Client(), "get", "/static/ombud.css", None),
        ("redirect to login", Client(), "get", "/org-a/staff/", None),
    ]
    for name, client, method, path, data in requests:
        response = getattr(client, method)(path, data)
        assert response.headers.get("Cross-Origin-Resource-Policy") == "same-origin", name
        policy = dict(
            part.strip().split("=", 1) for part in response.headers["Permissions-Policy"].split(",")
        )
        for feature in DENIED:
            assert policy[feature] == "()", (name, feature)
        # Security keys (WebAuthn) stay allowed for the site itself.
        assert policy["publickey-credentials-get"] == "(self)", name
        assert policy["publickey-credentials-create"] == "(self)", name


def test_the_proxys_https_header_is_trusted_only_behind_a_trusted_proxy(tmp_path):
    assert settings_of(tmp_path, "settings.SECURE_PROXY_SSL_HEADER") is None
    assert settings_of(
        tmp_path, "settings.SECURE_PROXY_SSL_HEADER", OMBUD_TRUSTED_PROXY_COUNT="1"
    ) == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_without_a_trusted_proxy_a_forged_https_header_is_not_believed(tmp_path):
    code = (
        "import django; django.setup(); from django.test import RequestFactory; "
        "print(RequestFactory().get('/', HTTP_X_FORWARDED_PROTO='https').is_secure())"
    )
    assert production(["-c", code], tmp_path).stdout.strip() == "False"
    behind = production(["-c", code], tmp_path, OMBUD_TRUSTED_PROXY_COUNT="1")
    assert behind.stdout.strip() == "True", behind.stderr


# --- item 12: var/ and its files are the owner's alone -----------------------------------


def test_a_fresh_data_directory_and_its_files_are_private(tmp_path):
    var = tmp_path / "fresh" / "var"
    code = (
        "import os; os.umask(0o022); import django; django.setup(); "
        "from django.db import connection; "
        "connection.cursor().execute('CREATE TABLE t (x integer)'); "
        "connection.cursor().execute('INSERT INTO t VALUES (1)')"
    )
    result = production(
        ["-c", code], tmp_path, OMBUD_VAR_DIR=str(var), SECRET_KEY="", OMBUD_PEPPER=""
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    files = sorted(var.iterdir())
    assert {f.name for f in files} >= {"secret_key", "ombud_pepper", "ombud.sqlite3"}
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
