import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from ombud.accounts.services import user_create
from ombud.orgs.management.commands.create_organisation import share_lines
from ombud.orgs.models import Event, Organisation, Role
from ombud.orgs.services import organisation_create

DEMO_ORG = "demo"
PEOPLE = [
    ("chair@demo.example", "Casey Chair", Role.CHAIR),
    ("riley@demo.example", "Riley Responder", Role.RESPONDER),
    ("sam@demo.example", "Sam Responder", Role.RESPONDER),
]


class Command(BaseCommand):
    help = "Create the demo organisation, event, chair and two responders (once)."

    def handle(self, *args, **options):
        if Organisation.objects.filter(slug=DEMO_ORG).exists():
            self.stdout.write(
                "Demo organisation exists; its logins were printed when it was created "
                "(delete var/ to start over)."
            )
            return
        passwords = {email: "demo-" + secrets.token_urlsafe(9) for email, _, _ in PEOPLE}
        with transaction.atomic():
            users = [
                user_create(email=email, password=passwords[email], display_name=name)
                for email, name, _ in PEOPLE
            ]
            # The chair and the two responders are the kit's trustees, 2 of 3.
            organisation_new = organisation_create(
                name="Demo Python Meetup", slug=DEMO_ORG, chair=users[0], responders=users[1:]
            )
            organisation = organisation_new.organisation
            Event.objects.create(
                organisation=organisation,
                name="Monthly meetup",
                slug="meetup",
                team_email="conduct@demo.example",
                emergency_number="112 (placeholder: set your country's number)",
                crisis_line="+00 000 000 000 (placeholder crisis line)",
                non_emergency_number="+00 000 000 001 (placeholder)",
                venue_security="Front desk, ground floor (placeholder)",
            )
        self.stdout.write(self.style.SUCCESS("Demo organisation “Demo Python Meetup” created."))
        self.stdout.write("Report form: http://localhost:8000/demo/meetup/report/")
        self.stdout.write("Staff login: http://localhost:8000/accounts/login/  (shown once):")
        for email, name, role in PEOPLE:
            self.stdout.write(f"  {role.label:<10} {email:<22} {passwords[email]}   ({name})")
        self.stdout.write(
            "The demo organisation's recovery kit (shown once; real trustees print it):"
        )
        share_lines(self.stdout, organisation_new.shares)
