from django.apps import AppConfig


class LibConfig(AppConfig):
    """Shared building blocks with no knowledge of Ombud's domain: crypto,
    errors, the throttle (and its table) and the housekeeping registry."""

    name = "ombud.lib"
    verbose_name = "Shared building blocks"
