from django.core.management.base import BaseCommand, CommandError

from ombud.audit.models import AuditEvent
from ombud.audit.services import audit_verify
from ombud.orgs.models import Organisation


class Command(BaseCommand):
    help = "Verify every organisation's hash-chained audit log; exit 1 on any break."

    def handle(self, *args, **options):
        broken = 0
        for org in Organisation.objects.order_by("pk"):
            problems = audit_verify(organisation=org)
            count = AuditEvent.objects.filter(organisation=org).count()
            if problems:
                broken += 1
                for problem in problems:
                    self.stderr.write(f"{org.slug}: {problem}")
            else:
                self.stdout.write(f"{org.slug}: {count} events, chain intact")
        if broken:
            raise CommandError(f"audit chain broken in {broken} organisation(s)")
