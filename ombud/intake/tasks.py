"""The IMAP poll as a task that schedules its own successor: every
OMBUD_IMAP_INTERVAL seconds the task worker polls the team mailbox.

At most one poll waits in the queue: a poll about to be queued first looks
for a waiting one (a READY row in django-tasks-db's table) and stops if there
is. A chain broken by a killed worker is restarted by `manage.py mail_poll
--schedule`, which `scripts/serve.sh` runs before it starts the worker. The
task takes no arguments: the mailbox password stays in the settings."""

import logging
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from ombud.intake.imap import imap_poll

logger = logging.getLogger(__name__)


@task()
def mail_poll() -> dict:
    try:
        if settings.OMBUD_MAIL_INTAKE != "imap":
            return {"skipped": "OMBUD_MAIL_INTAKE is not imap"}
        return asdict(imap_poll())
    finally:
        try:
            mail_poll_schedule(delay=timedelta(seconds=settings.OMBUD_IMAP_INTERVAL))
        except DatabaseError as e:
            # The chain breaks here; `manage.py mail_poll --schedule` (from
            # scripts/serve.sh, or cron in production) starts it again.
            logger.error("next mail poll not queued: %s", type(e).__name__)


def mail_poll_schedule(*, delay: timedelta = timedelta(0)) -> bool:
    """Queue the next poll to run after `delay`, unless one is waiting or
    IMAP intake is off. True when a poll was queued."""
    if settings.OMBUD_MAIL_INTAKE != "imap" or not mail_poll.get_backend().supports_defer:
        return False
    with transaction.atomic():
        waiting = DBTaskResult.objects.filter(
            task_path=mail_poll.module_path, status=TaskResultStatus.READY
        )
        if waiting.exists():
            return False
        mail_poll.using(run_after=timezone.now() + delay).enqueue()
    return True
