from django.core.management.base import BaseCommand, CommandError

from ombud.lib.housekeeping import housekeeping_run
from ombud.lib.tasks import housekeeping_schedulable, housekeeping_schedule


class Command(BaseCommand):
    help = (
        "Delete what has expired (throttle counts, portal sessions, renewal links, "
        "invitations, old inbound-mail dedupe rows) now, one line per step: for cron. "
        "--schedule instead queues the task worker's own repeating run, if none is waiting."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--schedule", action="store_true", help="queue the worker's run and exit"
        )

    def handle(self, *args, schedule=False, **options):
        if schedule:
            if not housekeeping_schedulable():
                # Run on every start by scripts/serve.sh: say why, but do not fail.
                self.stdout.write("the task backend cannot queue it: run housekeeping from cron")
            elif housekeeping_schedule():
                self.stdout.write("housekeeping queued")
            else:
                self.stdout.write("a housekeeping run is already queued")
            return
        removed = housekeeping_run()
        for name, count in removed.items():
            self.stdout.write(f"{name}: {'failed' if count is None else f'{count} removed'}")
        failed = [name for name, count in removed.items() if count is None]
        if failed:
            raise CommandError(f"housekeeping failed: {', '.join(failed)} (see the log)")
