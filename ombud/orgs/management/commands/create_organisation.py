import secrets

from django.core.management.base import BaseCommand, CommandError

from ombud.accounts.models import User
from ombud.accounts.services import user_create
from ombud.orgs.models import Organisation
from ombud.orgs.services import organisation_create


class Command(BaseCommand):
    help = "Create an organisation and its chair; prints the recovery kit once."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True)
        parser.add_argument("--chair-email", required=True)
        parser.add_argument("--chair-name", default="")

    def handle(self, *args, name, slug, chair_email, chair_name, **options):
        if Organisation.objects.filter(slug=slug).exists():
            raise CommandError(f"An organisation with the address “{slug}” exists already.")
        chair = User.objects.filter(email__iexact=chair_email).first()
        password = None
        if chair is None:
            password = secrets.token_urlsafe(12)
            chair = user_create(email=chair_email, password=password, display_name=chair_name)
        organisation_new = organisation_create(name=name, slug=slug, chair=chair)
        organisation, kit = organisation_new.organisation, organisation_new.recovery_kit
        self.stdout.write(f"Created {organisation.name} at /{organisation.slug}/.")
        if password:
            self.stdout.write(f"Chair login: {chair.email} / {password} (shown once)")
        self.stdout.write("RECOVERY KIT — print it and keep it offline; it is not stored anywhere:")
        self.stdout.write(kit)
