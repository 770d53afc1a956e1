import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from ombud.intake.imap import imap_poll
from ombud.intake.tasks import mail_poll_schedule


class Command(BaseCommand):
    help = (
        "Take in the mail in the team mailbox over IMAP (OMBUD_MAIL_INTAKE=imap): every "
        "OMBUD_IMAP_INTERVAL seconds, or once with --once (for cron). --schedule instead "
        "queues the task worker's own repeating poll, if none is waiting."
    )

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--once", action="store_true", help="poll once and exit")
        mode.add_argument(
            "--schedule", action="store_true", help="queue the worker's poll and exit"
        )

    def handle(self, *args, once=False, schedule=False, **options):
        if settings.OMBUD_MAIL_INTAKE != "imap":
            if schedule:  # run on every start by scripts/serve.sh: nothing to do
                return
            raise CommandError("IMAP intake is off: set OMBUD_MAIL_INTAKE=imap")
        if schedule:
            queued = mail_poll_schedule()
            self.stdout.write("mail poll queued" if queued else "a mail poll is already queued")
            return
        while True:
            result = imap_poll()
            if result.error and once:
                raise CommandError(f"mail poll failed: {result.error}")
            self.stdout.write(f"{result.taken_in} taken in, {result.quarantined} quarantined")
            if once:
                return
            close_old_connections()  # a loop that may run for months
            time.sleep(settings.OMBUD_IMAP_INTERVAL)
