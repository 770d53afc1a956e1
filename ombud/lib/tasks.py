"""Housekeeping as a task that schedules its own successor: every
OMBUD_HOUSEKEEPING_SECONDS (an hour) the task worker runs every housekeeping
step (ombud.lib.housekeeping).

At most one run waits in the queue: a run about to be queued first looks for
a waiting one (a READY row of this task in django-tasks-db's table, whether
due now or later) and stops if there is one. The look and the insert share
one transaction that two schedulers cannot run at once: exclusive on SQLite
(as the worker's own claim is), holding an advisory lock on PostgreSQL. A
chain broken by a killed worker or a database outage is restarted by
`manage.py housekeeping --schedule`, which `scripts/serve.sh` runs before it
starts the worker."""

import logging
import zlib
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from ombud.lib.housekeeping import housekeeping_run, housekeeping_step

logger = logging.getLogger(__name__)

# PostgreSQL's advisory lock for queueing a run: any 64-bit number of our own.
SCHEDULE_LOCK = zlib.crc32(b"ombud.lib.tasks.housekeeping_schedule")


@task()
def housekeeping() -> dict[str, int | None]:
    try:
        return housekeeping_run()
    finally:
        try:
            housekeeping_schedule(delay=timedelta(seconds=settings.OMBUD_HOUSEKEEPING_SECONDS))
        except DatabaseError as e:
            # The chain breaks here; `manage.py housekeeping --schedule` (from
            # scripts/serve.sh, or cron in production) starts it again.
            logger.error("next housekeeping run not queued: %s", type(e).__name__)


def housekeeping_schedulable() -> bool:
    """Whether the task backend is django-tasks-db's, the only one that keeps
    a deferred task and lets us see the one waiting."""
    return isinstance(housekeeping.get_backend(), DatabaseBackend)


def housekeeping_waiting():
    """The queued housekeeping runs not yet started (at most one)."""
    return DBTaskResult.objects.filter(
        task_path=housekeeping.module_path, status=TaskResultStatus.READY
    )


def housekeeping_schedule(*, delay: timedelta = timedelta(0)) -> bool:
    """Queue a housekeeping run after `delay`, unless one is waiting already.
    True when a run was queued."""
    if not housekeeping_schedulable():
        return False
    using = DBTaskResult.objects.db
    with exclusive_transaction(using):
        if connections[using].vendor == "postgresql":
            with connections[using].cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEDULE_LOCK])
        if housekeeping_waiting().exists():
            return False
        housekeeping.using(run_after=timezone.now() + delay).enqueue()
    return True


# Finished task results (their return values and tracebacks) are kept this
# long for someone looking into a problem, then deleted.
FINISHED_TASKS_KEPT = timedelta(days=7)


@housekeeping_step("finished tasks")
def finished_tasks_prune(now) -> int:
    return DBTaskResult.objects.filter(
        status__in=[TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED],
        finished_at__lt=now - FINISHED_TASKS_KEPT,
    ).delete()[0]
