"""What a reporter writes is readable only through a grant (DESIGN §5): not in
the database as stored on disk (or as dumped), not in logs, not in the task
queue, not in notification emails. The receipt is not stored either.

The flow runs for real: the public form, a responder reading the case (so the
decrypting read path runs too), and the task worker sending notifications."""

import io
import logging
import os
import re
import shutil
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django_tasks_db.models import DBTaskResult

from ombud.cases.models import Case, Grant, Submission
from ombud.intake.forms import ReportForm

# Letters outside a-f, so a marker cannot turn up by chance in hex-encoded
# ciphertext (pg_dump writes bytea as hex).
SUFFIX = "-MARKER-Wq7xKz"
TEXT_FIELDS = [
    name for name, field in ReportForm.base_fields.items() if type(field).__name__ == "CharField"
]
MARKERS = {name: f"Qv{name}{SUFFIX}" for name in TEXT_FIELDS}
# A date nothing else in the database carries, so it is a marker too.
DATE_MARKER = "1987-03-14"
# Plain metadata the test world stores unencrypted: finding it proves the
# search reads the data this test committed.
KNOWN_PLAINTEXT = ["Desk in the lobby", "bob@a.example"]


def report_fields(people):
    fields = {name: f"{marker} · 日本語 🙂" for name, marker in MARKERS.items()}
    fields["description"] = f"{MARKERS['description']}\n" + "What happened, at length. " * 400
    fields["reporter_contact"] = f"{MARKERS['reporter_contact']}@example.com"
    fields.update(
        ongoing="on",
        incident_date=DATE_MARKER,
        incident_time="14:30",
        consent_contact="on",
        consent_public="anonymous",
        exclude=[str(people.dave.pk)],
    )
    return fields


def secrets_of(receipt):
    """Every string that must not be found, with a name for the message."""
    found = {f"marker of {name}": marker for name, marker in MARKERS.items()}
    found["any marker"] = SUFFIX
    found["incident date"] = DATE_MARKER
    found["receipt"] = receipt
    found["receipt, normalised"] = receipt.replace("-", "")
    return found


def leaks(haystack: str | bytes, secrets: dict) -> list[str]:
    if isinstance(haystack, bytes):
        haystack_lower = haystack.lower()
        return [name for name, s in secrets.items() if s.lower().encode() in haystack_lower]
    haystack_lower = haystack.lower()
    return [name for name, s in secrets.items() if s.lower() in haystack_lower]


def stored_bytes() -> tuple[str, bytes]:
    """Everything the database holds, as an attacker with a copy would see it."""
    if connection.vendor == "sqlite":
        path = Path(connection.settings_dict["NAME"])
        assert path.is_file(), f"the test database is not a file on disk: {path}"
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert files[1].exists(), "SQLite is not in WAL mode"
        return "the SQLite database files", b"".join(f.read_bytes() for f in files if f.exists())
    if connection.vendor == "postgresql":
        pg_dump = shutil.which("pg_dump") or "/usr/bin/pg_dump"
        db = connection.settings_dict
        env = {**os.environ}
        if db.get("PASSWORD"):
            env["PGPASSWORD"] = db["PASSWORD"]
        dump = subprocess.run(  # noqa: S603 - fixed program, our own database's name
            [
                pg_dump,
                "--host",
                db.get("HOST") or "127.0.0.1",
                "--port",
                str(db.get("PORT") or 5432),
                "--username",
                db.get("USER") or "postgres",
                "--no-password",
                db["NAME"],
            ],
            capture_output=True,
            env=env,
            check=True,
            timeout=60,
        )
        return "pg_dump output", dump.stdout
    pytest.fail(f"no raw-storage check for the {connection.vendor} backend: add one")


def ids_only(value) -> bool:
    """Task arguments are ids, numbers and short names, never text."""
    if isinstance(value, dict):
        return all(ids_only(v) for v in value.values())
    if isinstance(value, list):
        return all(ids_only(v) for v in value)
    if isinstance(value, str):
        return re.fullmatch(r"[\w.:-]{0,64}", value) is not None
    return value is None or isinstance(value, int | float | bool)


@contextmanager
def signal_handlers_kept():
    """The worker installs its own Ctrl-C handler; give pytest its own back."""
    names = ("SIGINT", "SIGTERM", "SIGQUIT")
    saved = {
        getattr(signal, n): signal.getsignal(getattr(signal, n))
        for n in names
        if hasattr(signal, n)
    }
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


@pytest.fixture
def sql_logged():
    """Log every SQL statement with its parameters (at DEBUG), as DEBUG=True would."""
    previous = connection.force_debug_cursor
    connection.force_debug_cursor = True
    yield
    connection.force_debug_cursor = previous


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("ongoing", [True, False], ids=["ongoing", "not-ongoing"])
def test_report_content_and_receipt_leave_no_trace(
    client, people, submit_report, login, caplog, sql_logged, ongoing
):
    caplog.set_level(logging.DEBUG)
    # The worker sets its loggers' levels; caplog puts them back afterwards.
    for name in ("django_tasks", "django.tasks", "django_tasks_db", "django.db.backends"):
        caplog.set_level(logging.DEBUG, logger=name)
    mail.outbox.clear()

    fields = report_fields(people)
    if not ongoing:
        del fields["ongoing"]
    case, receipt = submit_report(people.event_a, **fields)
    assert case.urgent is ongoing
    secrets = secrets_of(receipt)
    assert Submission.objects.filter(case=case).count() == 1

    # A responder reads it: the decrypting read path runs and shows the markers.
    login(people.bob)
    page = client.get(f"/org-a/staff/cases/{case.number}/").content.decode()
    assert all(marker in page for marker in MARKERS.values()) and DATE_MARKER in page

    # The worker runs the queued notification.
    worker_output = io.StringIO()
    with signal_handlers_kept():
        call_command(
            "db_worker", batch=True, startup_delay=False, verbosity=2, stdout=worker_output
        )
    tasks = list(DBTaskResult.objects.all())
    failed = [(t.task_path, t.traceback) for t in tasks if t.status == "FAILED"]
    assert failed == []
    assert any(t.status == "SUCCESSFUL" for t in tasks), "no task ran"

    # (a, b, f) Storage: the database file (or dump) has no content and no receipt.
    where, raw = stored_bytes()
    for known in KNOWN_PLAINTEXT:
        assert known.encode() in raw, f"{known!r} not in {where}: the search reads nothing"
    assert leaks(raw, secrets) == [], f"found in {where}"

    # (c, f) Logs at DEBUG, SQL with its parameters included, and worker output.
    assert any(r.name == "django.db.backends" for r in caplog.records), "SQL was not logged"
    assert any("SUCCESSFUL" in r.getMessage() for r in caplog.records), "worker did not log"
    log_text = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    assert leaks(log_text, secrets) == [], "found in the logs"
    assert leaks(worker_output.getvalue(), secrets) == [], "found in the worker output"

    # (d) Task arguments are ids only; results hold nothing either.
    assert any(str(case.pk) in t.args_kwargs["kwargs"].values() for t in tasks)
    for task in tasks:
        assert ids_only(task.args_kwargs), f"{task.task_path} takes {task.args_kwargs}"
        stored = f"{task.args_kwargs} {task.return_value} {task.traceback}"
        assert leaks(stored, secrets) == [], f"found in the task queue ({task.task_path})"

    # (e) The notifications went to the responders with a grant, without content.
    recipients = {to for m in mail.outbox for to in m.to}
    assert {"alice@a.example", "bob@a.example"} <= recipients
    assert "dave@a.example" not in recipients  # excluded by the reporter
    for message in mail.outbox:
        parts = [message.subject, message.body, message.message().as_string()]
        parts += [content for content, _ in getattr(message, "alternatives", [])]
        assert leaks("\n".join(map(str, parts)), secrets) == [], f"in the mail to {message.to}"
        assert "日本語" not in message.subject + message.body
    assert not Grant.objects.filter(case=case, user=people.dave).exists()


@pytest.mark.django_db(transaction=True)
def test_a_refused_report_leaves_no_trace_either(client, people, caplog, sql_logged):
    """A form refused for a missing description still held everything else the
    reporter typed: none of it may be stored or logged."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    fields = report_fields(people)
    fields["description"] = "   "
    response = client.post(people.event_a.get_report_url(), fields)
    assert response.status_code == 400
    assert MARKERS["location"] in response.content.decode()  # given back to the reporter
    assert Case.objects.count() == 0

    secrets = {f"marker of {name}": m for name, m in MARKERS.items() if name != "description"}
    where, raw = stored_bytes()
    assert KNOWN_PLAINTEXT[0].encode() in raw
    assert leaks(raw, secrets) == [], f"found in {where}"
    assert leaks(caplog.text, secrets) == [], "found in the logs"
