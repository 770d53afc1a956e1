from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "ombud.portal"
    verbose_name = "Reporter portal"

    def ready(self):
        from ombud.portal import (
            housekeeping,  # noqa: F401 - registers its steps
            services,  # noqa: F401 - connects its signal receiver
        )
