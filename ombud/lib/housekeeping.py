"""One housekeeping run: the steps that delete rows nothing needs any more
(spent throttle counts, expired sessions and links, old dedupe rows), and
periodic chores of the same kind (the weekly audit head email to chairs).

Each app registers the steps for its own tables with `housekeeping_step`, in
a `housekeeping` module its AppConfig.ready() imports; lib knows no app. A
step is a function of `now` (an aware datetime) that deletes what had
expired by then and returns how many rows it removed. `housekeeping_run`
runs them all, each in its own transaction: a step that fails is logged by
name and exception type only (an error message can quote a row) and the
others still run.

The task worker runs it every OMBUD_HOUSEKEEPING_SECONDS (ombud.lib.tasks);
`manage.py housekeeping` runs it once, for cron."""

import logging
from collections.abc import Callable
from datetime import datetime

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

Step = Callable[[datetime], int]

_steps: dict[str, Step] = {}


def housekeeping_register(name: str, step: Step) -> Step:
    """Add a step under a short, human name (shown by `manage.py housekeeping`)."""
    known = _steps.get(name)
    if known is not None and known is not step:
        raise ImproperlyConfigured(f"two housekeeping steps are named {name!r}")
    _steps[name] = step
    return step


def housekeeping_step(name: str) -> Callable[[Step], Step]:
    """Decorator form of `housekeeping_register`."""

    def register(step: Step) -> Step:
        return housekeeping_register(name, step)

    return register


def housekeeping_steps() -> list[str]:
    """The names of the registered steps, in the order they run."""
    return list(_steps)


def housekeeping_run(now: datetime | None = None) -> dict[str, int | None]:
    """Run every step; for each, the number of rows it removed, or None when
    it failed (its transaction is rolled back, the others are kept)."""
    now = now or timezone.now()
    removed: dict[str, int | None] = {}
    for name, step in list(_steps.items()):
        try:
            with transaction.atomic():
                removed[name] = step(now)
        except Exception as e:
            logger.error("housekeeping step %r failed: %s", name, type(e).__name__)
            removed[name] = None
        else:
            if removed[name]:
                logger.info("housekeeping step %r removed %d rows", name, removed[name])
    return removed
