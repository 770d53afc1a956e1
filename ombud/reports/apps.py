from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Transparency reports and exports (DESIGN §9): aggregate views of cases
    that read `ombud.cases.selectors` only, never case content or keys."""

    name = "ombud.reports"
    verbose_name = "Transparency reports and exports"
