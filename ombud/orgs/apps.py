from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "ombud.orgs"
    verbose_name = "Organisations"

    def ready(self):
        from ombud.orgs import services  # noqa: F401 - connects its signal receivers
