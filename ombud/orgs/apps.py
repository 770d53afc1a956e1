from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "ombud.orgs"
    verbose_name = "Organisations"

    def ready(self):
        # services connects its signal receivers; housekeeping registers its step.
        from ombud.orgs import housekeeping, services  # noqa: F401
