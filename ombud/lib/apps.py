from django.apps import AppConfig


class LibConfig(AppConfig):
    """Shared building blocks with no knowledge of Ombud's domain: crypto,
    errors, the throttle (and its table) and the housekeeping registry."""

    name = "ombud.lib"
    verbose_name = "Shared building blocks"

    def ready(self):
        # The throttle and the tasks register their housekeeping steps;
        # checks registers the settings check.
        from ombud.lib import checks, tasks, throttle  # noqa: F401
