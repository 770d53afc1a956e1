"""The housekeeping run: the registry, the throttle's step, the command for
cron and the worker's self-scheduling task. Each app's own steps are tested
beside the app (tests/test_housekeeping.py)."""

import io
import logging
import signal
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from ombud.lib import housekeeping as registry
from ombud.lib.housekeeping import (
    housekeeping_register,
    housekeeping_run,
    housekeeping_step,
    housekeeping_steps,
)
from ombud.lib.models import ThrottleBucket
from ombud.lib.tasks import housekeeping, housekeeping_schedule, housekeeping_waiting
from ombud.lib.throttle import throttle_allow, throttle_prune

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = 86400


@pytest.fixture
def steps(monkeypatch):
    """A registry of the test's own, so the real steps stay as they are."""
    monkeypatch.setattr(registry, "_steps", {})
    return registry._steps


def test_every_app_registers_its_steps():
    assert set(housekeeping_steps()) == {
        "throttle buckets",
        "portal sessions",
        "receipt renewals",
        "invitations",
        "inbound mail dedupe",
        "report form tokens",
        "finished tasks",
        "expired login sessions",
        "failed logins",
        "audit head email",
    }


def test_a_step_name_names_one_step(steps):
    def prune(now):
        return 0

    housekeeping_register("things", prune)
    housekeeping_register("things", prune)  # the same step again: harmless
    with pytest.raises(ImproperlyConfigured, match="two housekeeping steps are named 'things'"):
        housekeeping_register("things", lambda now: 0)
    assert housekeeping_steps() == ["things"]


def test_each_step_gets_now_and_its_count_is_returned(db, steps):
    seen = []

    @housekeeping_step("first")
    def first(now):
        seen.append(now)
        return 2

    housekeeping_register("second", lambda now: 0)

    assert housekeeping_run(NOW) == {"first": 2, "second": 0}
    assert seen == [NOW]
    with time_machine.travel(NOW, tick=False):
        housekeeping_run()
    assert seen[-1] == NOW


def test_a_failing_step_is_rolled_back_and_logged_by_name_and_the_others_run(db, steps, caplog):
    @housekeeping_step("breaks")
    def breaks(now):
        ThrottleBucket.objects.create(key="written-then-rolled-back", window=0)
        raise ValueError("row content: reporter@example.org")

    @housekeeping_step("works")
    def works(now):
        return ThrottleBucket.objects.filter(window__lt=100).delete()[0]

    ThrottleBucket.objects.create(key="old", window=1)
    with caplog.at_level(logging.INFO):
        removed = housekeeping_run(NOW)

    assert removed == {"breaks": None, "works": 1}
    assert not ThrottleBucket.objects.exists()  # the failed step's write was rolled back
    assert "housekeeping step 'breaks' failed: ValueError" in caplog.text
    assert "reporter@example.org" not in caplog.text
    assert "Traceback" not in caplog.text


# --- the throttle's step ---------------------------------------------------------


@pytest.mark.django_db
def test_throttle_prune_removes_exactly_the_windows_that_started_over_a_day_ago():
    now = int(NOW.timestamp())
    for key, window in [
        ("two days", now - 2 * DAY),
        ("a day and a second", now - DAY - 1),
        ("exactly a day", now - DAY),
        ("an hour", now - 3600),
        ("now", now),
    ]:
        ThrottleBucket.objects.create(key=key, window=window, count=1)

    assert throttle_prune(NOW) == 2

    assert sorted(ThrottleBucket.objects.values_list("key", flat=True)) == [
        "an hour",
        "exactly a day",
        "now",
    ]


@pytest.mark.django_db
def test_a_limit_still_counting_survives_housekeeping():
    def allowed():
        return throttle_allow(scope="test", ident="1.2.3.4", limit=2, window_seconds=3600)

    with time_machine.travel(NOW - timedelta(days=2), tick=False):
        assert allowed()  # a spent window
    with time_machine.travel(NOW, tick=False):
        assert allowed() and allowed() and not allowed()
        assert housekeeping_run()["throttle buckets"] == 1
        assert not allowed()  # the current window still counts
    assert ThrottleBucket.objects.count() == 1


# --- the command for cron ---------------------------------------------------------


@pytest.mark.django_db
def test_the_command_prints_one_line_per_step_with_its_count():
    ThrottleBucket.objects.create(key="old", window=0, count=1)
    ThrottleBucket.objects.create(key="old too", window=1, count=1)
    out = io.StringIO()

    call_command("housekeeping", stdout=out)

    lines = out.getvalue().splitlines()
    assert "throttle buckets: 2 removed" in lines
    assert sorted(line.split(":")[0] for line in lines) == sorted(housekeeping_steps())
    assert all(line.endswith(" removed") for line in lines)


def test_the_command_fails_for_cron_when_a_step_fails(db, steps):
    housekeeping_register("fine", lambda now: 3)

    @housekeeping_step("broken")
    def broken(now):
        raise RuntimeError

    out = io.StringIO()
    with pytest.raises(CommandError, match="housekeeping failed: broken"):
        call_command("housekeeping", stdout=out)
    assert out.getvalue().splitlines() == ["fine: 3 removed", "broken: failed"]


# --- the worker's repeating run ---------------------------------------------------


def test_scheduling_twice_leaves_one_waiting_run(db):
    out = io.StringIO()
    assert housekeeping_schedule() is True
    assert housekeeping_schedule(delay=timedelta(hours=5)) is False
    call_command("housekeeping", schedule=True, stdout=out)
    assert out.getvalue() == "a housekeeping run is already queued\n"
    (waiting,) = housekeeping_waiting()
    assert waiting.args_kwargs == {"args": [], "kwargs": {}}
    assert waiting.run_after <= timezone.now()


def test_the_command_queues_a_run_when_none_waits(db):
    # A run that is going on, or finished, is no waiting run.
    housekeeping_schedule()
    DBTaskResult.objects.update(status=TaskResultStatus.RUNNING)
    out = io.StringIO()
    call_command("housekeeping", schedule=True, stdout=out)
    assert out.getvalue() == "housekeeping queued\n"
    assert housekeeping_waiting().count() == 1


def test_the_task_runs_the_steps_and_queues_the_next_run(db, settings):
    settings.OMBUD_HOUSEKEEPING_SECONDS = 1800
    ThrottleBucket.objects.create(key="old", window=0, count=1)

    removed = housekeeping.call()

    assert removed["throttle buckets"] == 1
    assert set(removed) == set(housekeeping_steps())
    (successor,) = housekeeping_waiting()
    wait = successor.run_after - timezone.now()
    assert timedelta(minutes=29) < wait <= timedelta(minutes=30)


def test_the_task_does_not_queue_a_second_waiting_run(db):
    housekeeping_schedule(delay=timedelta(minutes=5))
    housekeeping.call()
    assert housekeeping_waiting().count() == 1


def test_a_failing_step_still_queues_the_next_run(db, steps):
    @housekeeping_step("broken")
    def broken(now):
        raise RuntimeError

    assert housekeeping.call() == {"broken": None}
    assert housekeeping_waiting().count() == 1


@contextmanager
def signal_handlers_kept():
    """The worker installs its own Ctrl-C handler; give pytest its own back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


@pytest.mark.django_db(transaction=True)  # the worker closes the connection between tasks
def test_the_worker_runs_housekeeping_and_keeps_it_scheduled():
    ThrottleBucket.objects.create(key="old", window=0, count=1)
    call_command("housekeeping", schedule=True, stdout=io.StringIO())

    with signal_handlers_kept():
        call_command("db_worker", batch=True, startup_delay=False, stdout=io.StringIO())

    runs = DBTaskResult.objects.filter(task_path=housekeeping.module_path)
    (done,) = runs.filter(status=TaskResultStatus.SUCCESSFUL)
    assert done.return_value["throttle buckets"] == 1
    (waiting,) = runs.filter(status=TaskResultStatus.READY)
    assert waiting.run_after > timezone.now() + timedelta(minutes=59)
    assert not ThrottleBucket.objects.exists()


def test_nothing_is_queued_when_the_task_backend_cannot_wait(db, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    out = io.StringIO()
    assert housekeeping_schedule() is False
    call_command("housekeeping", schedule=True, stdout=out)
    assert "run housekeeping from cron" in out.getvalue()
    assert not DBTaskResult.objects.exists()


def test_the_interval_is_checked(settings):
    settings.OMBUD_HOUSEKEEPING_SECONDS = 0
    assert "lib.E001" in [e.id for e in run_checks()]
    settings.OMBUD_HOUSEKEEPING_SECONDS = 3600
    assert "lib.E001" not in [e.id for e in run_checks()]


def test_finished_tasks_are_kept_a_week_and_waiting_ones_always(db):
    from ombud.lib.tasks import finished_tasks_prune

    def row(status, finished_days_ago):
        finished = NOW - timedelta(days=finished_days_ago) if finished_days_ago else None
        return DBTaskResult.objects.create(
            status=status,
            task_path="ombud.lib.tasks.housekeeping",
            args_kwargs={"args": [], "kwargs": {}},
            queue_name="default",
            backend_name="default",
            finished_at=finished,
            run_after=NOW - timedelta(days=30),
        )

    old_done = row(TaskResultStatus.SUCCESSFUL, 8)
    old_failed = row(TaskResultStatus.FAILED, 9)
    recent = row(TaskResultStatus.SUCCESSFUL, 2)
    waiting = row(TaskResultStatus.READY, None)
    assert finished_tasks_prune(NOW) == 2
    left = set(DBTaskResult.objects.values_list("pk", flat=True))
    assert left == {recent.pk, waiting.pk}
    assert old_done.pk not in left and old_failed.pk not in left
