"""Settings shared by every environment. Everything configurable is read from the environment.

The defaults give the embedded setup used by ``make run``: a SQLite file under ``var/`` and a
Celery broker on kombu's filesystem transport, so that nothing but Python is needed.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from ismsapp.settings.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("ISMS_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _development_secret_key() -> str:
    """A random key kept in ``var/`` so sessions survive restarts of the embedded setup."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY", "") or _development_secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# How many reverse proxies in front of the app append to X-Forwarded-For. 0: trust none.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "auditlog",
    "csp",
    "django_htmx",
    "ismsapp",
    "controls",
    "risks",
    "evidence",
    "audits",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "ismsapp.middleware.LoginRequiredMiddleware",
    "ismsapp.middleware.MFAEnrolmentMiddleware",
    "ismsapp.cleaning.InputCleaningMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "ismsapp.middleware.SessionLifetimeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "ismsapp.middleware.AuditContextMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ismsapp.urls"
WSGI_APPLICATION = "ismsapp.wsgi.application"
AUTH_USER_MODEL = "ismsapp.User"

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
                "csp.context_processors.nonce",
                "ismsapp.context_processors.navigation",
            ],
        },
    },
    {
        # Row templates of long tables (templates/jinja2/**.jinja); see ismsapp/jinja2.py.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "ismsapp.jinja2.environment"},
    },
]

# --- database ---------------------------------------------------------------------------------

DEFAULT_SQLITE_URL = f"sqlite:///{VAR_DIR / 'isms.sqlite3'}"


def database_from_url(url: str) -> dict:
    config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            # WAL lets the web process read while the worker writes; IMMEDIATE takes the write
            # lock at BEGIN so two writers queue instead of failing half-way.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    return config


DATABASES = {"default": database_from_url(env_str("DATABASE_URL", DEFAULT_SQLITE_URL))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- authentication, lockout, object permissions ---------------------------------------------

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "ismsapp.net.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# "Confirm it's you": how long a confirmation of the password (and second factor) lets a session
# take sensitive steps (publishing the SoA, role and MFA changes, push-token rotation, ...).
ISMS_REAUTH_MINUTES = env_int("ISMS_REAUTH_MINUTES", 5)
# Roles whose members must have a second factor (comma-separated role values); users with an
# ``mfa_exemption`` (the demo users) are let through. Everybody else may enrol one.
ISMS_MFA_REQUIRED_ROLES = env_list("ISMS_MFA_REQUIRED_ROLES", "isms_admin,compliance_officer,external_auditor")
# How long the second step of the login (the code) may wait after the password.
ISMS_MFA_LOGIN_MINUTES = env_int("ISMS_MFA_LOGIN_MINUTES", 5)
OTP_TOTP_ISSUER = env_str("ISMS_OTP_ISSUER", "ISMS")
OTP_STATIC_THROTTLE_FACTOR = 1
# Passkeys (second factor only, never passwordless). Origins default to the request's own.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
OTP_WEBAUTHN_HELPER_CLASS = "ismsapp.passkeys.PasskeyHelper"
OTP_WEBAUTHN_RP_NAME = OTP_TOTP_ISSUER
OTP_WEBAUTHN_RP_ID_CALLABLE = "ismsapp.passkeys.relying_party_id"  # the host name the browser used
# Origins accepted besides the request's own https (or http://localhost) origin.
OTP_WEBAUTHN_ALLOWED_ORIGINS = env_list("ISMS_WEBAUTHN_ORIGINS", "http://localhost:8000")

GUARDIAN_RAISE_403 = True
ANONYMOUS_USER_NAME = None  # no guardian anonymous user: anonymous visitors hold no permissions

# --- audit trail --------------------------------------------------------------------------------

AUDITLOG_LOGENTRY_MODEL = "ismsapp.AuditEntry"
# auditlog's own migrations would create its default table even though the model is swapped.
MIGRATION_MODULES = {"auditlog": None}
AUDITLOG_INCLUDE_ALL_MODELS = True
AUDITLOG_EXCLUDE_TRACKING_MODELS = (
    "sessions",
    "contenttypes",
    "axes",
    "auth.permission",
    # second factors hold secrets: their changes are recorded as MFA events, never field by field
    "otp_totp",
    "otp_static",
    "django_otp_webauthn",
    "ismsapp.auditentry",
    "ismsapp.auditchainhead",
    "ismsapp.auditverification",
    # written by ismsapp.services.sessions / .tokens, which record their own events (never the keys)
    "ismsapp.usersession",
    "ismsapp.apitoken",
    "ismsapp.refusalcounter",  # bookkeeping of the audit trail's own rate limit
    # reference data loaded by a command, not records people edit
    "controls.controlgroup",
    "controls.controlattribute",
    "controls.control",
    "controls.control_attributes",
    "controls.controlmapping",
    "controls.clause",
    # machine evidence is written in bulk and has its own hash chains; ingestion jobs (one every few
    # seconds from a syslog receiver) have their own pages with who sent them
    "evidence.ingestionjob",
    "evidence.event",
    "evidence.chainlink",
    "evidence.checkpoint",
    "evidence.controleventcount",
    "evidence.ingestionchunk",
    "evidence.rejectedrecord",
    "evidence.sessionrecording",
)
# Refused accesses (401, 403, 404 of object scoping) recorded per actor or client address and
# kind, per minute; beyond it they are counted and the count goes into the next entry.
ISMS_REFUSALS_AUDITED_PER_MINUTE = env_int("ISMS_REFUSALS_AUDITED_PER_MINUTE", 20)
AUDITLOG_EXCLUDE_TRACKING_FIELDS = ("last_login",)
AUDITLOG_MASK_TRACKING_FIELDS = ("password", "key")
AUDITLOG_STORE_JSON_CHANGES = True
AUDITLOG_DISABLE_ON_RAW_SAVE = True

# --- sessions, cookies and headers -------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Enforced server-side by ismsapp.middleware.SessionLifetimeMiddleware.
ISMS_SESSION_IDLE_TIMEOUT = env_int("ISMS_SESSION_IDLE_MINUTES", 30) * 60  # seconds
ISMS_SESSION_ABSOLUTE_LIFETIME = env_int("ISMS_SESSION_ABSOLUTE_HOURS", 12) * 3600  # seconds
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", ISMS_SESSION_ABSOLUTE_LIFETIME)
# API tokens (ismsapp.services.tokens): lifetime in days when none is asked for, and the longest allowed.
ISMS_API_TOKEN_DEFAULT_DAYS = env_int("ISMS_API_TOKEN_DEFAULT_DAYS", 90)
ISMS_API_TOKEN_MAX_DAYS = env_int("ISMS_API_TOKEN_MAX_DAYS", 365)
if not 0 < ISMS_SESSION_IDLE_TIMEOUT <= ISMS_SESSION_ABSOLUTE_LIFETIME:
    raise ImproperlyConfigured("ISMS_SESSION_IDLE_MINUTES must be positive and within ISMS_SESSION_ABSOLUTE_HOURS.")
if not 0 < ISMS_API_TOKEN_DEFAULT_DAYS <= ISMS_API_TOKEN_MAX_DAYS:
    raise ImproperlyConfigured("ISMS_API_TOKEN_DEFAULT_DAYS must be positive and within ISMS_API_TOKEN_MAX_DAYS.")
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- i18n, static files -----------------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": VAR_DIR / "files"}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
BLOB_ROOT = Path(
    env_str("ISMS_BLOB_ROOT", str(VAR_DIR / "blobs"))
)  # content-addressed files (shared by web and workers)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- API ---------------------------------------------------------------------------------------

# Input cleaning (ismsapp/cleaning.py) and import inspection (ismsapp/inspection.py)
INPUT_DATE_MIN_YEAR = env_int("ISMS_INPUT_DATE_MIN_YEAR", 1900)
INPUT_DATE_MAX_YEAR = env_int("ISMS_INPUT_DATE_MAX_YEAR", 2200)
INPUT_MAX_JSON_DEPTH = env_int("ISMS_INPUT_MAX_JSON_DEPTH", 32)
# Spreadsheet imports, checked before any parser builds them (peak memory bound: ismsapp/inspection.py)
IMPORT_MAX_BYTES = env_int("ISMS_IMPORT_MAX_BYTES", 5 * 1024 * 1024)
IMPORT_MAX_ROWS = env_int("ISMS_IMPORT_MAX_ROWS", 5_001)  # data rows plus the header
IMPORT_MAX_CELLS = env_int("ISMS_IMPORT_MAX_CELLS", 200_000)
IMPORT_MAX_FIELDS_PER_ROW = env_int("ISMS_IMPORT_MAX_FIELDS_PER_ROW", 64)
IMPORT_MAX_STRING = env_int("ISMS_IMPORT_MAX_STRING", 32_767)
IMPORT_MAX_ENTRIES = env_int("ISMS_IMPORT_MAX_ENTRIES", 64)
IMPORT_MAX_MEMBER_BYTES = env_int("ISMS_IMPORT_MAX_MEMBER_BYTES", 16 * 1024 * 1024)
IMPORT_MAX_OTHER_MEMBER_BYTES = env_int("ISMS_IMPORT_MAX_OTHER_MEMBER_BYTES", 2 * 1024 * 1024)
IMPORT_MAX_TOTAL_BYTES = env_int("ISMS_IMPORT_MAX_TOTAL_BYTES", 32 * 1024 * 1024)
IMPORT_MAX_RATIO = env_int("ISMS_IMPORT_MAX_RATIO", 100)

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes DRF answer 401 (not 403) without credentials.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ismsapp.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["ismsapp.permissions.ModelPermissions"],
    # Input cleaning (ismsapp/cleaning.py): JSON depth bounded, no control characters in any string
    "DEFAULT_PARSER_CLASSES": [
        "ismsapp.cleaning.CleanJSONParser",
        "ismsapp.cleaning.CleanFormParser",
        "ismsapp.cleaning.CleanMultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "ismsapp.api.schema.IsmsAutoSchema",  # documents the error answers too
    "DEFAULT_PAGINATION_CLASS": "ismsapp.api.pagination.StandardPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_THROTTLE_RATES": {"token": "10/minute"},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # ?format= names an evidence format (HTTP push), not a renderer; use the Accept header instead
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ISMS API",
    "DESCRIPTION": "ISO/IEC 27001 information security management system.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "EditionEnum": "controls.models.catalogue.Edition",
        "ImplementationStatusEnum": "controls.models.soa.ImplementationStatus",
        "InclusionReasonEnum": "controls.models.soa.InclusionReason",
        "AuditStatusEnum": "audits.models.programme.Audit.Status",
        "ChecklistResultEnum": "audits.models.programme.ChecklistItem.Result",
        "NonconformityStatusEnum": "audits.models.findings.Nonconformity.Status",
        "CorrectiveActionStatusEnum": "audits.models.findings.CorrectiveAction.Status",
        "VerificationResultEnum": "audits.models.findings.EffectivenessVerification.Result",
    },
}

# --- Celery ------------------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
_CELERY_QUEUE_DIR = VAR_DIR / "celery"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("queue", "processed", "control"):
        (_CELERY_QUEUE_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_CELERY_QUEUE_DIR / "queue"),
        "data_folder_out": str(_CELERY_QUEUE_DIR / "queue"),
        "processed_folder": str(_CELERY_QUEUE_DIR / "processed"),
        # exchange tables; kombu's default is ./control, which would land in the checkout
        "control_folder": str(_CELERY_QUEUE_DIR / "control"),
        "store_processed": False,
    }
else:
    # An unacknowledged task (its worker died) goes back to the queue after this many seconds.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "isms")
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- e-mail, logging ---------------------------------------------------------------------------

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "isms@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- product settings --------------------------------------------------------------------------

ISMS_ORGANISATION_NAME = env_str("ISMS_ORGANISATION_NAME", "")
# Ed25519 key signing evidence checkpoints: a file outside the database (make setup creates a
# development key; in production mount it from a secret store).
EVIDENCE_SIGNING_KEY = Path(env_str("ISMS_EVIDENCE_SIGNING_KEY", str(VAR_DIR / "keys" / "evidence-signing.pem")))
# Every signed checkpoint is also appended here, outside the database (see evidence/journal.py).
# (Not beside the key by default: a key is often mounted read-only from a secret store.)
EVIDENCE_CHECKPOINT_JOURNAL = Path(
    env_str("ISMS_EVIDENCE_CHECKPOINT_JOURNAL", str(VAR_DIR / "evidence-checkpoints.jsonl"))
)
EVIDENCE_MAX_UPLOAD_BYTES = env_int("ISMS_EVIDENCE_MAX_UPLOAD_BYTES", 2 * 1024**3)
# Backups (ismsapp/backup.py): PostgreSQL client tools (pg_dump, pg_restore) from PATH unless set here;
# the nightly beat task is off until ISMS_BACKUP_DIR names a directory, where it keeps the newest
# ISMS_BACKUP_KEEP backups (the hour, UTC, is read by ismsapp/celery.py from ISMS_BACKUP_HOUR).
ISMS_PG_BIN_DIR = env_str("ISMS_PG_BIN_DIR", "")
ISMS_BACKUP_DIR = env_str("ISMS_BACKUP_DIR", "")
ISMS_BACKUP_KEEP = env_int("ISMS_BACKUP_KEEP", 7)
ISMS_BACKUP_INCLUDE_SECRETS = env_bool("ISMS_BACKUP_INCLUDE_SECRETS", False)
ISMS_BASE_URL = env_str("ISMS_BASE_URL", "http://127.0.0.1:8000").rstrip("/")  # for links in e-mails
CSRF_FAILURE_VIEW = "ismsapp.views.csrf_failure"
