"""System checks: a mistake shows at `manage.py check` and when any command
(runserver, migrate, the worker) starts, not as a server that quietly does
the wrong thing. The production ones are also run when the web app is loaded
(`production_checks_refuse`, from ombud/wsgi.py): gunicorn runs no checks."""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Warning, register, run_checks
from django.core.exceptions import ImproperlyConfigured

HOUSEKEEPING_MIN_SECONDS = 60
PRODUCTION = "ombud-production"  # the tag of the checks the web app runs when loaded

# Backends that write every mail where someone other than its recipient
# reads it (the log, memory, files): reset, invitation and new-receipt links.
MAIL_BACKENDS_FOR_DEBUG = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
)
PLACEHOLDER_SENDER = "ombud@localhost"


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


@register(PRODUCTION)
def mail_backend_check(app_configs, **kwargs):
    if settings.DEBUG or settings.EMAIL_BACKEND not in MAIL_BACKENDS_FOR_DEBUG:
        return []
    return [
        Error(
            f"EMAIL_BACKEND is {settings.EMAIL_BACKEND} with DEBUG off: every email, with its "
            "one-time links (password reset, invitation, new receipt) and reporters' "
            "addresses, would be written to the log or kept where mail does not belong.",
            hint="Set EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and EMAIL_HOST "
            "(README, Configuration); the console backend is for DEBUG=1 (make run) only.",
            id="lib.E002",
        )
    ]


@register(deploy=True)
def sender_check(app_configs, **kwargs):
    if settings.DEFAULT_FROM_EMAIL != PLACEHOLDER_SENDER:
        return []
    return [
        Warning(
            f"DEFAULT_FROM_EMAIL is the placeholder {PLACEHOLDER_SENDER}: mail from it is "
            "refused or lands in spam, and reporters cannot answer it.",
            hint="Set DEFAULT_FROM_EMAIL to an address of your domain.",
            id="lib.W003",
        )
    ]


@register(PRODUCTION)
def pepper_place_check(app_configs, **kwargs):
    database = settings.DATABASES["default"]
    pepper = settings.OMBUD_PEPPER_PATH
    if (
        settings.DEBUG
        or settings.OMBUD_PEPPER_BESIDE_DATABASE
        or pepper is None
        or database["ENGINE"] not in ("ombud.lib.sqlite3", "django.db.backends.sqlite3")
        or Path(pepper).resolve().parent != Path(database["NAME"]).resolve().parent
    ):
        return []
    return [
        Error(
            f"OMBUD_PEPPER is read from {pepper}, in the same directory as the SQLite "
            "database: a copy or backup of that directory would hold both.",
            hint="Keep the pepper elsewhere: OMBUD_PEPPER_FILE (e.g. /etc/ombud/pepper, "
            "readable by Ombud only; move var/ombud_pepper there) or OMBUD_PEPPER from a "
            "secret store. OMBUD_PEPPER_BESIDE_DATABASE=1 accepts it where it is.",
            id="lib.E003",
        )
    ]


def production_checks_refuse() -> None:
    """Refuse to load the web app while a production check fails."""
    errors = [m for m in run_checks(tags=[PRODUCTION]) if m.is_serious() and not m.is_silenced()]
    if errors:
        raise ImproperlyConfigured("\n".join(str(e) for e in errors))
