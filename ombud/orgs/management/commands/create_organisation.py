import secrets

from django.core.management.base import BaseCommand, CommandError

from ombud.accounts.models import User
from ombud.accounts.services import user_create
from ombud.lib.errors import ServiceError
from ombud.orgs.models import Organisation
from ombud.orgs.services import organisation_create


class Command(BaseCommand):
    help = (
        "Create an organisation and its chair; prints the recovery kit's share(s) once "
        "(1 of 1 for a team of one; with --responder, 2 of n among the chair and them)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True)
        parser.add_argument("--chair-email", required=True)
        parser.add_argument("--chair-name", default="")
        parser.add_argument(
            "--responder",
            action="append",
            default=[],
            metavar="EMAIL",
            help="An existing account to add as a responder and trustee (repeat for more).",
        )

    def handle(self, *args, name, slug, chair_email, chair_name, responder, **options):
        if Organisation.objects.filter(slug=slug).exists():
            raise CommandError(f"An organisation with the address “{slug}” exists already.")
        responders = []
        for email in responder:
            user = User.objects.filter(email__iexact=email).first()
            if user is None:
                raise CommandError(f"There is no account {email}: create it first.")
            responders.append(user)
        chair = User.objects.filter(email__iexact=chair_email).first()
        password = None
        if chair is None:
            password = secrets.token_urlsafe(12)
            chair = user_create(email=chair_email, password=password, display_name=chair_name)
        try:
            organisation_new = organisation_create(
                name=name, slug=slug, chair=chair, responders=responders
            )
        except ServiceError as e:
            raise CommandError(str(e)) from None
        organisation = organisation_new.organisation
        self.stdout.write(f"Created {organisation.name} at /{organisation.slug}/.")
        if password:
            self.stdout.write(f"Chair login: {chair.email} / {password} (shown once)")
        share_lines(self.stdout, organisation_new.shares)


def share_lines(out, shares) -> None:
    """Print the recovery kit's shares, once, with what a chair must know."""
    k, n = shares[0].threshold, shares[0].count
    if n == 1:
        out.write(
            "RECOVERY KIT (1 of 1: a team of one, so this one share opens every case; once "
            "the team has two or more members, re-issue it split among trustees under "
            "Recovery kit → Re-issue). Print it and keep it offline; it is not stored anywhere:"
        )
    else:
        out.write(
            f"RECOVERY KIT, split {k} of {n}: any {k} trustees' shares together open every "
            "case, one alone opens nothing. Print each share and give it to its trustee only; "
            "they are not stored anywhere:"
        )
    for share in shares:
        out.write(f"  share {share.index} for {share.trustee}:")
        out.write(f"    {share.text}")
