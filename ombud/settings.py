"""Ombud settings: everything comes from the environment (see README).

Every secret can also be given as a file with the `*_FILE` variant. When neither
SECRET_KEY nor OMBUD_PEPPER is given, they are generated once into git-ignored
files under var/, so `make run` works on a fresh clone.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("OMBUD_VAR_DIR", BASE_DIR / "var"))


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def var_dir_make() -> None:
    """Make var/ if it is missing, readable by its owner only (0700): it
    holds the generated secrets and the SQLite database. An existing one is
    left as the operator set it."""
    VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def secret_file(name: str, *, generate: bool = False) -> Path | None:
    """The file NAME is read from: NAME_FILE, or var/<name> with generate;
    None when NAME itself is set (or nothing is, without generate)."""
    if os.environ.get(name):
        return None
    if os.environ.get(f"{name}_FILE"):
        return Path(os.environ[f"{name}_FILE"])
    return VAR_DIR / name.lower() if generate else None


def envsecret(name: str, *, generate: bool = False) -> str:
    """Read NAME, or the file named by NAME_FILE; with generate, var/<name> made once."""
    if os.environ.get(name):
        return os.environ[name]
    if os.environ.get(f"{name}_FILE"):
        return _secret_read(Path(os.environ[f"{name}_FILE"]), name)
    if not generate:
        return ""
    path = VAR_DIR / name.lower()
    if not path.exists():
        var_dir_make()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process generated it a moment ago
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
    return _secret_read(path, name)


def _secret_read(path: Path, name: str) -> str:
    # An empty pepper would still "work", with a key anyone can derive; refuse it.
    value = path.read_text().strip()
    if not value:
        raise ImproperlyConfigured(f"{name}: the file {path} is empty")
    return value


DEBUG = envbool("DEBUG", False)
SECRET_KEY = envsecret("SECRET_KEY", generate=True)
OMBUD_PEPPER = envsecret("OMBUD_PEPPER", generate=True)
# Where the pepper was read from (None: the environment). Production refuses
# one in the SQLite database's directory (lib.E003): a copy of that directory
# would hold both. OMBUD_PEPPER_BESIDE_DATABASE=1 accepts it all the same.
OMBUD_PEPPER_PATH = secret_file("OMBUD_PEPPER", generate=True)
OMBUD_PEPPER_BESIDE_DATABASE = envbool("OMBUD_PEPPER_BESIDE_DATABASE", False)
ALLOWED_HOSTS = [h for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
# Development uses localhost, not 127.0.0.1: browsers allow security keys on
# http://localhost but refuse them on http://127.0.0.1 ("invalid domain").
SITE_ROOT = env("SITE_ROOT", "http://localhost:8000")
CSRF_TRUSTED_ORIGINS = [SITE_ROOT]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # allauth's MFA templates
    "rules.apps.AutodiscoverRulesConfig",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "anymail",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # Ombud's apps, as layers from the bottom up (docs/architecture.md).
    "ombud.lib",
    "ombud.audit",
    "ombud.notify",
    "ombud.accounts",
    "ombud.orgs",
    "ombud.cases",
    "ombud.reports",
    "ombud.intake",
    "ombud.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Permissions-Policy and Cross-Origin-Resource-Policy, static files included.
    "ombud.lib.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Only for allauth's MFA pages (reauthentication redirects); login is ours.
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ombud.accounts.middleware.SessionLimitMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ombud.urls"
WSGI_APPLICATION = "ombud.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
    {
        # Plain-text emails (ombud.notify.services.email_render): no HTML escaping.
        "NAME": "email",
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates" / "email"],
        "OPTIONS": {"autoescape": False},
    },
]

# --- database ---------------------------------------------------------------

if env("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(env("DATABASE_URL"), conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            # Django's, with the database file made private (0600) first.
            "ENGINE": "ombud.lib.sqlite3",
            "NAME": env("SQLITE_PATH", str(VAR_DIR / "ombud.sqlite3")),
            "OPTIONS": {
                # WAL for concurrent readers; FULL so an acknowledged report
                # survives a power cut; IMMEDIATE so writers queue, not fail.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # A file, not memory, so tests can read the raw bytes on disk.
            "TEST": {"NAME": str(VAR_DIR / "test.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth and sessions ------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out account+address before any password check.
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Argon2id at the cost of OMBUD_ARGON2 (below): the password's hash is no
# cheaper to guess against than the key it protects (`make bench` times a login).
PASSWORD_HASHERS = ["ombud.accounts.hashers.Argon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "staff-home"
LOGOUT_REDIRECT_URL = "login"

# Two-factor authentication (django-allauth MFA). Our own login view checks
# the password and unlocks the private key, then asks for the second factor
# (ombud.accounts.mfa); allauth provides the authenticators and their pages.
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_TOTP_ISSUER = "Ombud"
# A code of the 30 seconds before or after is accepted too: phones' clocks
# drift, and a code typed as it changes should still work.
MFA_TOTP_TOLERANCE = 1
MFA_PASSKEY_LOGIN_ENABLED = False
# Browsers allow security keys on https:// and on http://localhost only; this
# lets them be tried over plain http on another name (testing only).
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = envbool("OMBUD_WEBAUTHN_ALLOW_HTTP", False)
MFA_ADAPTER = "ombud.accounts.mfa.MFAAdapter"
# Code forms that refuse a used code for as long as it could be valid.
MFA_FORMS = {
    "authenticate": "ombud.accounts.mfa.CodeForm",
    "reauthenticate": "ombud.accounts.mfa.ReauthenticateCodeForm",
    # ... and security-key forms that refuse a malformed answer with a message.
    "reauthenticate_webauthn": "ombud.accounts.mfa.ReauthenticateKeyForm",
    "add_webauthn": "ombud.accounts.mfa.AddKeyForm",
}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "ombud.accounts.mfa.AccountAdapter"

# In the database, so that rate limits kept in the cache (allauth's for the
# second login step) hold across every worker process and restart. The
# table is made by `migrate` (ombud/accounts/migrations/0004_cache_table.py).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "ombud_cache",
    }
}

# Argon2id cost for the key that protects each responder's private key;
# about 0.4 s on 2 cores. Stored with each key, so it can be raised.
OMBUD_ARGON2 = {
    "time_cost": envint("OMBUD_ARGON2_TIME_COST", 4),
    "memory_cost": envint("OMBUD_ARGON2_MEMORY_KIB", 131072),
    "parallelism": envint("OMBUD_ARGON2_PARALLELISM", 2),
}

SECURE_COOKIES = envbool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Staff sessions: 2 hours idle (the session's age, renewed by a request at most
# once a minute rather than written on every one) and 12 hours absolute; both in
# ombud.accounts.middleware.SessionLimitMiddleware.
SESSION_COOKIE_AGE = 2 * 3600
OMBUD_SESSION_MAX_AGE = 12 * 3600
# A reset link works for an hour, and once (its HMAC covers the password hash).
PASSWORD_RESET_TIMEOUT = 3600
CSRF_COOKIE_HTTPONLY = True
SESSION_KEY_COOKIE = "ombud_kk"  # holds the key that opens the session's private key

# Lockout (django-axes): 5 failed logins for one account from one address lock
# that pair for 15 minutes; a success clears the count. Usernames of failures
# are not logged, successful logins not recorded.
# Password reset requests: per IP per 15 minutes, per address per hour.
OMBUD_RESET_TRIES_PER_IP = envint("OMBUD_RESET_TRIES_PER_IP", 5)
OMBUD_RESET_TRIES_PER_EMAIL = envint("OMBUD_RESET_TRIES_PER_EMAIL", 3)
# Every reset request is answered after this long, whether a link was sent or not.
OMBUD_RESET_ANSWER_SECONDS = envint("OMBUD_RESET_ANSWER_MS", 150) / 1000
# Reverse proxies in front of the app (a TLS proxy: 1). The client address is
# then read from X-Forwarded-For, for the lockout and every rate limit.
OMBUD_TRUSTED_PROXY_COUNT = envint("OMBUD_TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "ombud.lib.throttle.client_ip"
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "ombud.accounts.views.locked_out"
AXES_VERBOSE = False
AXES_DISABLE_ACCESS_LOG = True

SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
# The proxy's word that a request came over HTTPS, only with a proxy trusted:
# without one, any client could send the header.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if OMBUD_TRUSTED_PROXY_COUNT > 0 else None
)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
# Preloading commits the domain and all its subdomains to HTTPS in browsers for
# good; that is the operator's choice (SECURE_HSTS_PRELOAD=1), not a default.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Not "no-referrer": with it, browsers send `Origin: null` on form POSTs and
# Django's CSRF origin check refuses every form (the report form included).
# "same-origin" still sends nothing to other sites.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Receipt guessing is throttled before any hashing: per client address and
# across all clients, per 10 minutes. Staff pages are never throttled by it.
OMBUD_RECEIPT_TRIES_PER_IP = envint("OMBUD_RECEIPT_TRIES_PER_IP", 10)
OMBUD_RECEIPT_TRIES_GLOBAL = envint("OMBUD_RECEIPT_TRIES_GLOBAL", 600)
OMBUD_RECEIPT_WINDOW_SECONDS = 600
PORTAL_COOKIE = "ombud_portal"

# A report form of all fields, full, is far below this; larger bodies get a 400.
# It counts the text fields only: attached files have their own limits below.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# Attached files are held in memory only, never in a temporary file: on disk
# they would be the one unencrypted copy of a reporter's photo. Files beyond
# 25 MB in all (ombud.cases.attachments) are read and dropped, and the form
# comes back with its text and an error saying why; a body above
# FILE_UPLOAD_MAX_MEMORY_SIZE keeps none of its files, and is still read to
# its end so that what the reporter typed comes back too.
# Under ASGI the same size keeps the server's own body buffer in memory too.
FILE_UPLOAD_HANDLERS = ["ombud.cases.attachments.AttachmentUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024
OMBUD_DESCRIPTION_MAX = 50_000

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        # data: for the QR code on the authenticator-app setup page.
        "img-src": [SELF, "data:"],
        # allauth's WebAuthn script posts the ceremony's result to our own origin.
        "connect-src": [SELF],
        "font-src": [SELF],
        "form-action": [SELF],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    }
}

# --- static, mail, tasks ------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

# The console backend prints every mail, one-time links included: DEBUG only
# (lib.E002 refuses it, locmem and filebased in production).
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envsecret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "ombud@localhost")  # check --deploy: lib.W003

# Push channels reach only public addresses; on, a push may also go to a
# private or loopback one (a self-hosted ntfy on the LAN). Never link-local,
# multicast, reserved or unspecified ones (README, "During an event").
OMBUD_PUSH_ALLOW_PRIVATE = envbool("OMBUD_PUSH_ALLOW_PRIVATE", False)

TASKS = {
    "default": {
        "BACKEND": env("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}
# Seconds between the task worker's housekeeping runs (README, "Housekeeping").
OMBUD_HOUSEKEEPING_SECONDS = envint("OMBUD_HOUSEKEEPING_SECONDS", 3600)

# --- email intake ---------------------------------------------------------------
# How mail to the team address reaches Ombud (README, "Receiving reports by
# email"): "" off; "imap": the task worker polls a mailbox; "webhook": Mailgun
# posts each mail (through django-anymail); "smtp": `manage.py smtpd` receives it.
OMBUD_MAIL_INTAKE = env("OMBUD_MAIL_INTAKE").strip().lower()

# "tls" (implicit TLS, port 993), "starttls" (port 143), or "none": plain text,
# refused for any server but this machine's own.
OMBUD_IMAP_SECURITY = env("OMBUD_IMAP_SECURITY", "tls").strip().lower()
OMBUD_IMAP_HOST = env("OMBUD_IMAP_HOST")
OMBUD_IMAP_PORT = envint("OMBUD_IMAP_PORT", 993 if OMBUD_IMAP_SECURITY == "tls" else 143)
OMBUD_IMAP_USER = env("OMBUD_IMAP_USER")
OMBUD_IMAP_PASSWORD = envsecret("OMBUD_IMAP_PASSWORD")
OMBUD_IMAP_FOLDER = env("OMBUD_IMAP_FOLDER", "INBOX")
OMBUD_IMAP_QUARANTINE_FOLDER = env("OMBUD_IMAP_QUARANTINE_FOLDER", "Quarantine")
# A CA certificate (PEM) to trust besides the system's, for a server with its own CA.
OMBUD_IMAP_CA_FILE = env("OMBUD_IMAP_CA_FILE")
OMBUD_IMAP_INTERVAL = envint("OMBUD_IMAP_INTERVAL", 60)  # seconds between polls

# Mailgun's inbound route posts to /anymail/mailgun/inbound_mime/ with this
# basic-auth "user:password", and signs each post with the signing key. Unset
# values stay out of ANYMAIL: an empty signing key would accept any signature.
ANYMAIL = {
    name: value
    for name, value in {
        "WEBHOOK_SECRET": envsecret("OMBUD_ANYMAIL_WEBHOOK_SECRET"),
        "MAILGUN_WEBHOOK_SIGNING_KEY": envsecret("OMBUD_MAILGUN_WEBHOOK_SIGNING_KEY"),
    }.items()
    if value
}

# Automatic answers (with the receipt) to one sender address per hour.
OMBUD_MAIL_AUTO_REPLIES_PER_HOUR = envint("OMBUD_MAIL_AUTO_REPLIES_PER_HOUR", 5)
# Days a mail taken in is remembered (a keyed hash of its Message-ID), so the
# same mail delivered again makes no second case. Redelivery comes within
# minutes (a poller killed before it deleted the mail) to days (Mailgun
# retries for 8 hours, mail servers give up after about 5 days); 30 is far
# beyond that. At least 7 (intake.E006).
OMBUD_INBOUND_DEDUPE_DAYS = envint("OMBUD_INBOUND_DEDUPE_DAYS", 30)

OMBUD_SMTPD_HOST = env("OMBUD_SMTPD_HOST", "127.0.0.1")
OMBUD_SMTPD_PORT = envint("OMBUD_SMTPD_PORT", 2525)
OMBUD_SMTPD_MAX_BYTES = envint("OMBUD_SMTPD_MAX_BYTES", 30 * 1024 * 1024)  # SMTP SIZE

LANGUAGE_CODE = "en"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "ombud.accounts.logging.RedactTokens"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # Paths of reset and invitation links hold their one-time token.
        "django.request": {"filters": ["redact_tokens"]},
        "django.server": {"filters": ["redact_tokens"]},
        # django-axes narrates every login at INFO; failures stay at WARNING.
        "axes": {"level": "WARNING"},
    },
}
