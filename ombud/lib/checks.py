"""System check for the housekeeping interval: a mistake shows at `manage.py
check` and when the worker starts, not as a worker that does nothing else."""

from django.conf import settings
from django.core.checks import Error, register

HOUSEKEEPING_MIN_SECONDS = 60


@register()
def housekeeping_interval_check(app_configs, **kwargs):
    if settings.OMBUD_HOUSEKEEPING_SECONDS < HOUSEKEEPING_MIN_SECONDS:
        return [
            Error(
                f"OMBUD_HOUSEKEEPING_SECONDS must be at least {HOUSEKEEPING_MIN_SECONDS}",
                hint="The default, 3600, runs housekeeping hourly.",
                id="lib.E001",
            )
        ]
    return []
