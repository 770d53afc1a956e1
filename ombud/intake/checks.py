"""System checks for the email intake settings (README, "Receiving reports by
email"): a mistake shows at `manage.py check` and when the worker starts,
not as mail that silently never arrives."""

from django.conf import settings
from django.core.checks import Error, register

from ombud.intake.imap import LOCAL_HOSTS

INTAKES = ("", "imap", "webhook", "smtp")


@register()
def mail_intake_check(app_configs, **kwargs):
    intake = settings.OMBUD_MAIL_INTAKE
    if intake not in INTAKES:
        return [
            Error(
                f"OMBUD_MAIL_INTAKE={intake!r} is not one of imap, webhook, smtp (or empty)",
                id="intake.E001",
            )
        ]
    errors = []
    if intake == "imap":
        for name in ("OMBUD_IMAP_HOST", "OMBUD_IMAP_USER", "OMBUD_IMAP_PASSWORD"):
            if not getattr(settings, name):
                errors.append(Error(f"OMBUD_MAIL_INTAKE=imap needs {name}", id="intake.E002"))
        security = settings.OMBUD_IMAP_SECURITY
        if security not in ("tls", "starttls", "none"):
            errors.append(
                Error("OMBUD_IMAP_SECURITY must be tls, starttls or none", id="intake.E003")
            )
        elif security == "none" and settings.OMBUD_IMAP_HOST not in LOCAL_HOSTS:
            errors.append(
                Error(
                    "OMBUD_IMAP_SECURITY=none would send the mailbox password in clear",
                    hint="Use tls or starttls; none is only for a server on this machine.",
                    id="intake.E004",
                )
            )
    if intake == "webhook":
        for name, setting in (
            ("OMBUD_ANYMAIL_WEBHOOK_SECRET", "WEBHOOK_SECRET"),
            ("OMBUD_MAILGUN_WEBHOOK_SIGNING_KEY", "MAILGUN_WEBHOOK_SIGNING_KEY"),
        ):
            if not settings.ANYMAIL.get(setting):
                errors.append(Error(f"OMBUD_MAIL_INTAKE=webhook needs {name}", id="intake.E005"))
    return errors


DEDUPE_MIN_DAYS = 7


@register()
def inbound_dedupe_check(app_configs, **kwargs):
    if settings.OMBUD_INBOUND_DEDUPE_DAYS < DEDUPE_MIN_DAYS:
        return [
            Error(
                f"OMBUD_INBOUND_DEDUPE_DAYS must be at least {DEDUPE_MIN_DAYS}",
                hint="Mail servers retry a delivery for up to 5 days: the same mail could "
                "then become a second case.",
                id="intake.E006",
            )
        ]
    return []
