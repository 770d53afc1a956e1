from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "ombud.intake"

    def ready(self):
        # Connects the anymail inbound receiver and registers the settings checks.
        from ombud.intake import checks, signals  # noqa: F401
