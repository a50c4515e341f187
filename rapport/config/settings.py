"""Django settings, read from the environment (see docs/configuration.md for every variable)."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Any

import environ
from csp import constants as csp_constants

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("RAPPORT_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# "development" (default: make run) or "production". Tests run in development mode.
RAPPORT_MODE = env.str("RAPPORT_MODE", default="development")
if RAPPORT_MODE not in {"development", "production"}:
    raise SystemExit(f"RAPPORT_MODE must be 'development' or 'production', not {RAPPORT_MODE!r}")
PRODUCTION = RAPPORT_MODE == "production"
TESTING = "pytest" in sys.modules or env.bool("RAPPORT_TESTING", default=False)


def _development_secret_key() -> str:
    """A per-checkout random key kept under var/: never committed, never a default."""
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if len(SECRET_KEY) < 50:
        raise SystemExit(
            "SECRET_KEY must be set (at least 50 random characters) when RAPPORT_MODE=production."
        )
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _development_secret_key()

# Key for secrets that integrations store (SMTP/IMAP passwords, webhook secrets). Rotating
# SECRET_KEY must not make them unreadable, so production may set its own key.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="") or SECRET_KEY

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    # Ninja as an app serves Swagger UI from its own static files, not from a CDN, so
    # /api/v1/docs works offline and under the Content-Security-Policy.
    "ninja",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "rapport.core",
    "rapport.identity",
    "rapport.customers",
    "rapport.commerce",
    "rapport.integrations",
    "rapport.dedupe",
    "rapport.dataquality",
    "rapport.activities",
    "rapport.sales",
    "rapport.analytics",
    "rapport.service",
    "rapport.marketing",
    "rapport.reporting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # django-csp: the Content-Security-Policy header on every response (see below).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The "Browser…" middleware are Django's and django-otp's own, skipped only for /api/
    # requests authenticated by a Bearer key (no session: nothing for them to do); see
    # rapport/core/middleware.py. CSRF runs for every request.
    "rapport.core.middleware.BrowserSessionMiddleware",
    # Date and number formats on pages follow the browser's Accept-Language (within
    # LANGUAGES)…
    "rapport.core.middleware.PageLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "rapport.core.middleware.BrowserAuthenticationMiddleware",
    "rapport.core.middleware.BrowserOTPMiddleware",
    "rapport.identity.middleware.RequireTwoFactorMiddleware",
    # …unless the user chose a locale on their profile (decision 0795).
    "rapport.identity.middleware.UserLocaleMiddleware",
    "rapport.core.middleware.BrowserMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "rapport.core.middleware.RequestContextMiddleware",
    # Turns django-ratelimit's Ratelimited (a PermissionDenied) into RATELIMIT_VIEW's 429.
    "django_ratelimit.middleware.RatelimitMiddleware",
    # Axes last: it needs the authenticated request to decide on lockouts.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "rapport.config.urls"
WSGI_APPLICATION = "rapport.config.wsgi.application"
ASGI_APPLICATION = "rapport.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "rapport" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rapport.core.context_processors.shell",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'rapport.sqlite3'}")
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE transactions take
    # the write lock up front so concurrent writers queue instead of failing mid-way.
    _db.setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=20000; "
                "PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456; PRAGMA temp_store=MEMORY;"
            ),
        }
    )
else:
    _db.setdefault("CONN_HEALTH_CHECKS", True)
    _db.setdefault("TEST", {})
# Persistent connections on both databases: the web server's request threads live as long
# as the process, and opening a SQLite connection per request re-runs the pragmas above and
# starts with a cold page cache (a third of an API request's time before this).
_db.setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits and lockouts need one shared by every process) ------------------
CACHES = {
    "default": env.cache_url(
        "CACHE_URL",
        default="locmemcache://" if TESTING else f"filecache://{VAR_DIR / 'cache'}",
    )
}

# --- Identity, passwords, sessions ------------------------------------------------------
AUTH_USER_MODEL = "identity.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    # Argon2 on purpose costs ~50 ms a hash; tests hash thousands of passwords.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "identity:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "identity:login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 2
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Brute-force lockout: 5 failures for one account from one address locks it for 15 min.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "identity/locked_out.html"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

# Rate limits (django-ratelimit syntax "count/period"), by client address or account.
RATELIMIT_LOGIN = env.str("RATELIMIT_LOGIN", default="20/m")
RATELIMIT_PASSWORD_RESET = env.str("RATELIMIT_PASSWORD_RESET", default="10/h")
RATELIMIT_PASSWORD_RESET_PER_EMAIL = env.str("RATELIMIT_PASSWORD_RESET_PER_EMAIL", default="3/h")
RATELIMIT_TWO_FACTOR = env.str("RATELIMIT_TWO_FACTOR", default="10/m")
RATELIMIT_API_PER_KEY = env.str("RATELIMIT_API_PER_KEY", default="6000/m")
# The public web-to-lead endpoint (docs/sales.md): submissions per IP, and the sites whose
# pages may post to it ("https://www.example.com"; none: every cross-site post is refused).
RATELIMIT_WEB_LEAD = env.str("RATELIMIT_WEB_LEAD", default="20/h")
SALES_WEB_FORM_ORIGINS = env.list("SALES_WEB_FORM_ORIGINS", default=[])
# API key lookups are cached per process at most this long; revoking a key (or any change
# to a user's access) invalidates every process's cache at once through CACHE_URL. 0: off.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=30)
RATELIMIT_VIEW = "rapport.core.views.rate_limited"
# django-ratelimit warns about caches it cannot prove are shared; the embedded file cache
# is shared by every process on the machine and production points CACHE_URL at Redis.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

OTP_TOTP_ISSUER = "Rapport"

# --- E-mail -----------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url(
    "EMAIL_URL", default="consolemail://" if not PRODUCTION else "smtp://localhost:25"
)
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Rapport <rapport@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Background tasks -------------------------------------------------------------------
TASK_BACKEND = env.str("TASK_BACKEND", default="database")
TASKS: dict[str, dict[str, Any]]
if TASK_BACKEND == "database":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
elif TASK_BACKEND == "rq":
    # Scale-out: the same tasks on Redis through RQ, workers on as many machines as needed.
    INSTALLED_APPS += ["django_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")}}
elif TASK_BACKEND == "immediate":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
else:
    raise SystemExit("TASK_BACKEND must be 'database', 'rq' or 'immediate'.")

# --- Internationalisation ---------------------------------------------------------------
LANGUAGE_CODE = "en-us"
# The locales a user may pick (or a browser may ask for) for dates and numbers; names in
# their own language. Django ships the formats; UI text stays English where Rapport has no
# translation (decision 0795).
LANGUAGES = [
    ("en-us", "English (US)"),
    ("en-gb", "English (UK)"),
    ("de", "Deutsch"),
    ("es", "Español"),
    ("fr", "Français"),
    ("it", "Italiano"),
    ("nl", "Nederlands"),
    ("pt", "Português"),
]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
DEFAULT_CURRENCY = env.str("DEFAULT_CURRENCY", default="EUR")
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="US")
# Uploaded import files (and their error reports) are deleted after this many days.
IMPORT_RETENTION_DAYS = env.int("IMPORT_RETENTION_DAYS", default=7)
# Rows per import transaction (and per checkpoint).
IMPORT_BATCH_SIZE = env.int("IMPORT_BATCH_SIZE", default=2000)
# Past this many rows, an import validates the rest in IMPORT_VALIDATION_PROCESSES worker
# processes while it writes (0 processes: all in the importing process).
IMPORT_PARALLEL_AFTER_ROWS = env.int("IMPORT_PARALLEL_AFTER_ROWS", default=4_000)
IMPORT_VALIDATION_PROCESSES = env.int(
    "IMPORT_VALIDATION_PROCESSES", default=1 if (os.cpu_count() or 1) >= 2 else 0
)
# Limits on an import file, checked before it is parsed (a hostile or broken file is
# refused at once with a clear message instead of tying up a worker): see
# docs/configuration.md. Cell: 32,767 characters is what a spreadsheet cell can hold.
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=500 * 1024 * 1024)
IMPORT_MAX_COLUMNS = env.int("IMPORT_MAX_COLUMNS", default=500)
IMPORT_MAX_CELL_CHARS = env.int("IMPORT_MAX_CELL_CHARS", default=32_767)
IMPORT_MAX_LINE_CHARS = env.int("IMPORT_MAX_LINE_CHARS", default=1024 * 1024)
IMPORT_MAX_UNCOMPRESSED_BYTES = env.int("IMPORT_MAX_UNCOMPRESSED_BYTES", default=1024 * 1024 * 1024)
IMPORT_MAX_COMPRESSION_RATIO = env.int("IMPORT_MAX_COMPRESSION_RATIO", default=100)
# A worker silent for this long is taken for dead and its running tasks are re-queued.
WORKER_DEAD_AFTER_SECONDS = env.int("WORKER_DEAD_AFTER_SECONDS", default=30)

# --- Static and uploaded files ----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "rapport" / "static"]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "files")},
    },
    "staticfiles": {
        # Production serves collected, hashed, compressed files (`rapport serve` collects
        # them at start); development serves straight from the apps' folders.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Security headers -------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp; Django has its own only from 6.0). Scripts and
# style sheets from this site only: no inline <script>, no on*= or hx-on handlers, no eval.
# Inline style *attributes* (style="width: 40%") are allowed by style-src-attr, a
# documented compromise (docs/decisions/0710-content-security-policy.md); <style>
# elements are not. A page that embeds something else (the API docs, the chat widget)
# widens its own policy with csp.decorators.csp_update, never this default.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF],
        "style-src": [csp_constants.SELF],
        "style-src-attr": [csp_constants.UNSAFE_INLINE],
        "img-src": [csp_constants.SELF],
        "font-src": [csp_constants.SELF],
        "connect-src": [csp_constants.SELF],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.NONE],
        "frame-ancestors": [csp_constants.NONE],
        "form-action": [csp_constants.SELF],
    },
}
# Where browsers report violations (any collector that takes CSP reports); off by default.
CSP_REPORT_URI = env.str("CSP_REPORT_URI", default="")
if CSP_REPORT_URI:
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [CSP_REPORT_URI]
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Logging ----------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "filters": {
        "housekeeping_at_debug": {"()": "rapport.core.logfilters.HousekeepingAtDebug"},
        "no_403_traceback": {"()": "rapport.core.logfilters.PermissionDeniedWithoutTraceback"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
        # Periodic housekeeping at DEBUG; a 403 as one warning line (core/logfilters.py).
        "django_tasks": {"filters": ["housekeeping_at_debug"]},
        "django.request": {"filters": ["no_403_traceback"]},
    },
}

# --- Rapport-specific -------------------------------------------------------------------
# Hosts that outbound webhooks may reach although they resolve to private addresses.
WEBHOOK_ALLOWED_PRIVATE_HOSTS = env.list(
    "WEBHOOK_ALLOWED_PRIVATE_HOSTS", default=[] if PRODUCTION else ["127.0.0.1"]
)
# Delivered outbox events are kept this long (for replay and debugging), then pruned.
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=30)
# Lists count exactly up to this many rows, then say "more than N".
LIST_EXACT_COUNT_CAP = env.int("LIST_EXACT_COUNT_CAP", default=10_000)
API_PAGE_SIZE_MAX = 200
