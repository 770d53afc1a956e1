import re

from django.core.management.base import BaseCommand, CommandError

from ombud.audit.models import AuditEvent
from ombud.audit.services import ChainHead, audit_head, audit_verify
from ombud.orgs.models import Organisation

_EXPECT = re.compile(r"(?P<slug>[-a-zA-Z0-9_]+):(?P<seq>[1-9][0-9]*):(?P<hash>[0-9a-f]{64})")


def _expected(values: list[str]) -> dict[str, ChainHead]:
    heads = {}
    for value in values:
        match = _EXPECT.fullmatch(value.strip())
        if match is None:
            raise CommandError(
                f"--expect {value!r}: give ORGANISATION:SEQ:HASH as --head prints it"
            )
        if not Organisation.objects.filter(slug=match["slug"]).exists():
            raise CommandError(f"--expect: there is no organisation {match['slug']!r}")
        heads[match["slug"]] = ChainHead(int(match["seq"]), match["hash"])
    return heads


class Command(BaseCommand):
    help = (
        "Verify every organisation's keyed, hash-chained audit log; exit 1 on any break. "
        "--head prints each chain's newest event, to keep outside the database; "
        "--expect checks a chain against such a head."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--head",
            action="store_true",
            help="Print each organisation's head as ORGANISATION:SEQ:HASH, to copy and keep.",
        )
        parser.add_argument(
            "--expect",
            action="append",
            default=[],
            metavar="ORGANISATION:SEQ:HASH",
            help="A head printed earlier (or from the weekly email): the log must still "
            "hold that event with that hash. Repeat for several organisations.",
        )

    def handle(self, *args, **options):
        expected = _expected(options["expect"])
        broken = 0
        for org in Organisation.objects.order_by("pk"):
            expect = expected.get(org.slug)
            problems = audit_verify(organisation=org, expect=expect)
            if problems:
                broken += 1
                for problem in problems:
                    self.stderr.write(f"{org.slug}: {problem}")
            elif options["head"]:
                head = audit_head(organisation=org)
                if head.seq:
                    self.stdout.write(f"{org.slug}:{head}")
            else:
                count = AuditEvent.objects.filter(organisation=org).count()
                held = f", contains event {expect.seq}" if expect else ""
                self.stdout.write(f"{org.slug}: {count} events, chain intact{held}")
        if broken:
            raise CommandError(f"audit chain broken in {broken} organisation(s)")
