"""agenwork settings, read from the environment.

Every value has an embedded default that suits `make run` on a bare machine (SQLite, a filesystem
Celery broker, mail to files); production sets the environment. Malformed values fail at start.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from agenwork.embedded import read_demo_upstreams, read_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("AGENWORK_VAR_DIR", BASE_DIR / "var"))


def env_or_file(name: str) -> str | None:
    """NAME from the environment, or the contents of the file named by NAME_FILE (Docker secrets).

    - Both set is a mistake that fails at start; an unreadable file too.
    """
    file_path = os.environ.get(f"{name}_FILE")
    if file_path and os.environ.get(name):
        raise ImproperlyConfigured(f"{name} and {name}_FILE are both set: keep one")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path!r} cannot be read: {exc}") from exc
    return os.environ.get(name)


def env_str(name: str, default: str = "") -> str:
    """A string from the environment or from NAME_FILE."""
    raw = env_or_file(name)
    return default if raw is None else raw


def env_bool(name: str, default: bool) -> bool:
    raw = env_or_file(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    raw = env_or_file(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env_or_file(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
_make_run_key = ""
if not SECRET_KEY and not env_or_file("DATABASE_URL"):
    # The embedded setup (SQLite under VAR_DIR): the key `make run` keeps there, so its processes
    # and any manage.py command from the checkout share one key (agenwork/embedded.py).
    SECRET_KEY = _make_run_key = read_secret_key(VAR_DIR)
# Anything else is a deployment, which must bring its own keys.
_development = DEBUG or bool(_make_run_key) or os.environ.get("AGENWORK_ALLOW_DEV_SECRET") == "1"
if not SECRET_KEY:
    if not _development:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "agenwork-development-only-key-never-use-in-production-0123456789"  # noqa: S105

# Encrypts the secrets the app reads back (agenwork/crypto.py). A key of its own in a deployment,
# so that SECRET_KEY and it rotate apart; in development SECRET_KEY serves (under `make run`, its
# key file: the demo's stored secrets stay readable).
ENCRYPTION_KEY = env_str("ENCRYPTION_KEY")
if not ENCRYPTION_KEY:
    if not _development:
        raise ImproperlyConfigured(
            "ENCRYPTION_KEY must be set when DEBUG is off. Upgrading? Until now SECRET_KEY "
            "encrypted the stored secrets: set a new ENCRYPTION_KEY, put the SECRET_KEY in "
            "ENCRYPTION_OLD_KEYS, then run `manage.py reencrypt_secrets` (see the README)."
        )
    ENCRYPTION_KEY = SECRET_KEY
# Keys of earlier rotations, comma-separated: they still decrypt, never encrypt. Emptied once
# `manage.py reencrypt_secrets` has moved every stored secret to ENCRYPTION_KEY.
ENCRYPTION_OLD_KEYS = env_list("ENCRYPTION_OLD_KEYS", [])

SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
_site = urlsplit(SITE_URL)
if _site.scheme not in {"http", "https"} or not _site.hostname:
    raise ImproperlyConfigured(f"SITE_URL={SITE_URL!r} must be an absolute http(s) URL")
SITE_IS_HTTPS = _site.scheme == "https"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [_site.hostname, "127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = [f"{_site.scheme}://{_site.netloc}"]

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
    "django_tables2",
    "django_filters",
    "template_partials",
    "oauth2_provider",
    "agenwork",
    "audit",
    "directory",
    "connectors",
    "gateways",
    "approval_flows",
    "policies",
    "requests_app",
    "dashboard",
    "api",
    "mcp_gateway",
    "ops",
]

MIDDLEWARE = [
    # /healthz answers before host checks, the SSL redirect and sessions: load balancers probe it.
    "ops.middleware.HealthCheckMiddleware",
    "agenwork.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "agenwork.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise: static files keep their long cache; every other answer is private.
    "agenwork.security.PrivateCacheMiddleware",
    # The API's and SCIM's Bearer calls leave the stack here: none of the rest applies to them.
    "agenwork.endpoints.BearerEndpointMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "agenwork.urls"
WSGI_APPLICATION = "agenwork.wsgi.application"

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
                "agenwork.context_processors.console",
            ],
        },
    }
]

# Checks silenced on purpose, each with its reason where it is added.
SILENCED_SYSTEM_CHECKS: list[str] = []

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'agenwork.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except Exception as exc:  # dj_database_url raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from exc
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Django's backend, its check of a kept connection made by polling the socket, not SELECT 1.
    DATABASES["default"]["ENGINE"] = "agenwork.postgres"
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Small choice lists (.iterator() in form fields) need no DECLARE CURSOR round trips.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
elif DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The web server, the worker and beat share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # Covering indexes (INCLUDE) serve the Dashboard on PostgreSQL; SQLite builds them without.
    SILENCED_SYSTEM_CHECKS.append("models.W040")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's model backend, loading the login's directory person in the same query.
AUTHENTICATION_BACKENDS = ["directory.auth.PersonLoginBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security: HTTPS-only settings follow the scheme of SITE_URL -------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_COOKIE_SECURE = SITE_IS_HTTPS
CSRF_COOKIE_HTTPONLY = True  # htmx sends the token from the page (hx-headers), not the cookie
CSRF_COOKIE_SECURE = SITE_IS_HTTPS
SECURE_SSL_REDIRECT = SITE_IS_HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000) if SITE_IS_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SITE_IS_HTTPS
SECURE_HSTS_PRELOAD = SITE_IS_HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# No inline script or style anywhere: every script and stylesheet is a static file.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# --- Single sign-on: the console's sign-in through the company's OpenID Connect provider --------
# Unset OIDC_ISSUER: only the local password login (break-glass, and `make run`). The endpoints
# are discovered from OIDC_ISSUER/.well-known/openid-configuration (directory/oidc.py).
OIDC_ISSUER = env_str("OIDC_ISSUER").strip()
OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID").strip()
OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET").strip()
OIDC_SCOPES = env_str("OIDC_SCOPES", "openid email profile").split()
# What the login page's button says: "Sign in with Okta".
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "single sign-on").strip()
# The claim matched to a person's external id (Person.external_id): `sub` by default; `oid`
# for Microsoft Entra ID when SCIM writes the object id there.
OIDC_EXTERNAL_ID_CLAIM = env_str("OIDC_EXTERNAL_ID_CLAIM", "sub").strip()
OIDC_TIMEOUT_SECONDS = env_int("OIDC_TIMEOUT_SECONDS", 10)
if OIDC_ISSUER or OIDC_CLIENT_ID or OIDC_CLIENT_SECRET:
    _issuer = urlsplit(OIDC_ISSUER)
    _local_issuer = _issuer.hostname in {"localhost", "127.0.0.1", "::1"}
    if not (OIDC_ISSUER and OIDC_CLIENT_ID and OIDC_CLIENT_SECRET):
        raise ImproperlyConfigured(
            "Single sign-on needs OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET together"
        )
    if _issuer.scheme != "https" and not (_issuer.scheme == "http" and _local_issuer):
        raise ImproperlyConfigured(
            f"OIDC_ISSUER={OIDC_ISSUER!r} must be an https URL (http only on this machine)"
        )
    if _issuer.query or _issuer.fragment:
        raise ImproperlyConfigured(f"OIDC_ISSUER={OIDC_ISSUER!r} has no query or fragment")
    if "openid" not in OIDC_SCOPES:
        raise ImproperlyConfigured(f"OIDC_SCOPES={' '.join(OIDC_SCOPES)!r} must include openid")
    if not OIDC_EXTERNAL_ID_CLAIM or not 1 <= OIDC_TIMEOUT_SECONDS <= 120:
        raise ImproperlyConfigured(
            "OIDC_EXTERNAL_ID_CLAIM must name a claim; OIDC_TIMEOUT_SECONDS must be 1..120"
        )

# --- Login throttling: failures per username and per address, then a cool-off -------------------
LOGIN_FAILURES_PER_USERNAME = env_int("LOGIN_FAILURES_PER_USERNAME", 5)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20)
LOGIN_COOLOFF_SECONDS = env_int("LOGIN_COOLOFF_SECONDS", 15 * 60)

# --- Step-up: a person signs in again before a Step-up tool runs (directory/step_up.py) ----------
# A step-up lets the person's calls of Step-up tools through for this long after they signed in
# again (the engine's window, for the gateway API's step_up.authenticated_at too); the link the
# MCP gateway gives for it works this long.
STEP_UP_WINDOW_SECONDS = env_int("STEP_UP_WINDOW_SECONDS", 15 * 60)
STEP_UP_LINK_SECONDS = env_int("STEP_UP_LINK_SECONDS", 10 * 60)
if not 1 <= STEP_UP_WINDOW_SECONDS <= 24 * 3600 or not 60 <= STEP_UP_LINK_SECONDS <= 24 * 3600:
    raise ImproperlyConfigured(
        "STEP_UP_WINDOW_SECONDS must be 1..86400, STEP_UP_LINK_SECONDS 60..86400"
    )

# --- Mail ---------------------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 25)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "agenwork <agenwork@localhost>")

# --- SMS (Twilio) -------------------------------------------------------------------------------
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER")
TWILIO_API_BASE_URL = env_str("TWILIO_API_BASE_URL")

# --- Cache (login throttling, Dashboard figures): Redis, else files under VAR_DIR -------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "agenwork",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # One cache for every process of the machine (web, worker, manage.py): the worker's Dashboard
    # figures must reach the web server, and login failures every web process.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        "control_folder": str(VAR_DIR / "broker-control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_TASK_IGNORE_RESULT = True
# Beat's only schedule: the sweep that claims what is due in PostgreSQL. Nothing far ahead ever
# waits in the broker (with Redis, such tasks are redelivered after the visibility timeout).
CELERY_BEAT_SCHEDULE = {
    "sweep": {
        "task": "requests_app.tasks.sweep",
        "schedule": env_int("SWEEP_INTERVAL_SECONDS", 10),
    },
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# A worker that loses the broker keeps trying to reconnect, however long Redis is away (Celery
# gives up after 100 attempts by default and the process exits); /healthz and the compose health
# check show it meanwhile. A task running when the connection drops is not cancelled: it finishes
# and records its outcome in PostgreSQL, where a redelivered copy finds the row already claimed.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULER = "agenwork.beat:Scheduler"  # makes the file's folder when it is missing
# Workers log through LOGGING below (JSON lines with the request id), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- Console ------------------------------------------------------------------------------------
REQUESTS_PAGE_SIZES = (25, 50, 100)
# The Dashboard's figures are recomputed by a worker once they are this old (seconds).
DASHBOARD_FIGURES_MAX_AGE_SECONDS = env_int("DASHBOARD_FIGURES_MAX_AGE_SECONDS", 60)
if DASHBOARD_FIGURES_MAX_AGE_SECONDS < 1:
    raise ImproperlyConfigured("DASHBOARD_FIGURES_MAX_AGE_SECONDS must be at least 1")

# --- Logs: one JSON object per line in production, readable lines with DEBUG -----------------
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json")
# --- MCP gateway (mcp_gateway/) ------------------------------------------------------------------
# Upstream MCP servers started as local commands, by connector slug: JSON in MCP_UPSTREAMS or in
# the file MCP_UPSTREAMS_FILE names. Only ops set it: no page can make the server run a program.
# On the embedded defaults (no DATABASE_URL) and with neither set, the file `make run` writes:
# the demo's time and repo servers (agenwork/embedded.py).
MCP_UPSTREAMS = env_str("MCP_UPSTREAMS", "")
if not MCP_UPSTREAMS.strip() and not env_or_file("DATABASE_URL"):
    MCP_UPSTREAMS = read_demo_upstreams(VAR_DIR)
# Seconds a call to an upstream may take (a connector's upstream_timeout_seconds wins).
MCP_UPSTREAM_TIMEOUT = env_int("MCP_UPSTREAM_TIMEOUT", 30)
if MCP_UPSTREAM_TIMEOUT < 1:
    raise ImproperlyConfigured("MCP_UPSTREAM_TIMEOUT must be at least 1 (seconds)")
# A call that needs approval is held this long (under the 60 s common clients wait), with a
# progress notification every MCP_HOLD_PROGRESS_SECONDS; one poll every MCP_HOLD_POLL_MS looks
# for decisions on every held request at once.
MCP_HOLD_SECONDS = env_int("MCP_HOLD_SECONDS", 45)
MCP_HOLD_PROGRESS_SECONDS = env_int("MCP_HOLD_PROGRESS_SECONDS", 5)
MCP_HOLD_POLL_SECONDS = env_int("MCP_HOLD_POLL_MS", 500) / 1000
if not 0 <= MCP_HOLD_SECONDS <= 3600 or MCP_HOLD_PROGRESS_SECONDS < 1 or MCP_HOLD_POLL_SECONDS <= 0:
    raise ImproperlyConfigured(
        "MCP_HOLD_SECONDS must be 0..3600, MCP_HOLD_PROGRESS_SECONDS at least 1, "
        "MCP_HOLD_POLL_MS above 0"
    )
# Where agents reach the gateway, as the console shows it in the line a person pastes into their
# agent (the person's page, after a token is created). docker-compose publishes the gateway on
# port 8001 of the console's host; `make run` sets PORT + 300.
MCP_GATEWAY_URL = env_str("MCP_GATEWAY_URL", f"http://{_site.hostname}:8001/mcp").rstrip("/")
_gateway = urlsplit(MCP_GATEWAY_URL)
if _gateway.scheme not in {"http", "https"} or not _gateway.hostname:
    raise ImproperlyConfigured(f"MCP_GATEWAY_URL={MCP_GATEWAY_URL!r} must be an http(s) URL")

# agenwork as the OAuth 2.1 authorization server of its MCP gateway (mcp_gateway/oauth.py): the
# toolkit does the protocol; these make it OAuth 2.1 as MCP's authorization specification asks.
OAUTH2_PROVIDER = {
    "OIDC_ISS_ENDPOINT": SITE_URL,  # the issuer (RFC 8414) the gateway's metadata names
    "SCOPES": {"mcp": "Use the MCP gateway's tools as you, under the company's policies"},
    "DEFAULT_SCOPES": ["mcp"],
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,  # S256 only
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,  # tokens stored as their SHA-256 only
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,  # RFC 9207: the issuer in the redirect
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("OAUTH_ACCESS_TOKEN_SECONDS", 3600),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int("OAUTH_REFRESH_TOKEN_SECONDS", 30 * 24 * 3600),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,  # a rotated refresh token used again revokes all
    "REQUEST_APPROVAL_PROMPT": "force",  # the consent page every time
    # What the metadata advertises is what registration accepts: public clients, code flow.
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["none"],
    "DCR_ENABLED": True,  # MCP clients register themselves (RFC 7591): public clients only
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    # Client ID metadata documents: an https URL as client_id, its JSON fetched (clients.py)
    "CIMD_ENABLED": env_bool("OAUTH_CIMD_ENABLED", True),
    "CIMD_METADATA_FETCHER": "mcp_gateway.clients.GatewayMetadataFetcher",
    "CIMD_METADATA_MIN_AGE_SECONDS": 300,
}
# A metadata document on this machine (https://localhost/…) is fetched too: for tests and dev.
OAUTH_CIMD_ALLOW_LOOPBACK = env_bool("OAUTH_CIMD_ALLOW_LOOPBACK", False)
# Named so that a foreign key of ours to it (mcp_gateway's AgentConnection) has a migration.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
# Agents on the person's machine receive the code on a loopback http address (RFC 8252), as MCP's
# authorization specification allows; registration refuses http anywhere else (oauth.py).
SILENCED_SYSTEM_CHECKS.append("oauth2_provider.W008")

if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be json or text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "agenwork.logs.RequestIdFilter"},
        "client_errors": {"()": "agenwork.logs.ClientErrorFilter"},
    },
    "formatters": {
        "json": {"()": "agenwork.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "client_errors"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's default handlers on "django" (a console with DEBUG, mail to ADMINS) would
        # write every 4xx and 5xx a second time: its records go to the root handler only.
        "django": {"handlers": []},
        "django.db.backends": {"level": "INFO"},
        # The Twilio SDK logs every request's headers at INFO: a dozen lines for each SMS.
        "twilio.http_client": {"level": "WARNING"},
    },
}
