from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "ombud.cases"

    def ready(self):
        from ombud.cases import notices  # noqa: F401 - registers the outbox entitlement check
        from ombud.cases.services import team  # noqa: F401 - connects its signal receivers
