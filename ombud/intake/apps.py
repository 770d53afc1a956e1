from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "ombud.intake"

    def ready(self):
        # Connects the anymail inbound receiver, registers the settings checks
        # and the housekeeping step.
        from ombud.intake import checks, housekeeping, signals  # noqa: F401
