"""Settings for the LLM Gateway: one module, read top to bottom, configured from the environment.

Embedded defaults make `make run` work on a fresh machine: no DATABASE_URL means SQLite in
BASE_DIR/db.sqlite3, no REDIS_URL means tasks run in-process and the cache is local memory.
Every variable is documented in docs/configuration.md, in the order it appears here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: str = "False") -> bool:
    """Only the literal strings True and False are accepted (as healthchecks' envbool)."""
    value = os.environ.get(name, default)
    if value not in ("True", "False"):
        raise ImproperlyConfigured(f"{name} must be True or False, not {value!r}")
    return value == "True"


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_secret(name: str, default: str = "") -> str:
    """Read NAME_FILE first (Docker/Kubernetes secrets), then NAME, then the default."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def parse_database_url(url: str, *, sqlite: dict[str, object]) -> dict[str, object]:
    """DATABASE_URL → a Django DATABASES entry, through dj-database-url.

    Accepts what Django users bring: `postgres://`, `postgresql://` and `pgsql://` (psycopg 3;
    query options such as `?sslmode=require` go to OPTIONS) and `sqlite:///relative/path` or
    `sqlite:////absolute/path` (with the same OPTIONS as the embedded SQLite default, `sqlite`,
    so a SQLite URL behaves like no URL at all). Anything else is refused at start-up.
    """
    scheme = url.partition(":")[0]
    try:
        config: dict[str, object] = dict(
            dj_database_url.parse(
                url,
                conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
                conn_health_checks=True,
            )
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from exc
    engine = config.get("ENGINE")
    if engine == "django.db.backends.sqlite3":
        options: dict[str, object] = {}
        for source in (sqlite.get("OPTIONS"), config.get("OPTIONS")):
            options.update(source if isinstance(source, dict) else {})
        return {**sqlite, "NAME": config["NAME"], "OPTIONS": options}
    if engine != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {scheme!r} is not supported (use postgres:// or sqlite:///)"
        )
    config.setdefault("OPTIONS", {})
    return config


def parse_route_timeouts(value: str) -> dict[str, tuple[float, float | None]]:
    """ "openai.Responses=900,anthropic.Messages=600/180" → {route: (read, idle or None)}.

    Each entry names a proxy route as dialect.Endpoint (the proxy checks the names at start-up)
    and its read timeout, optionally followed by /idle, the stream idle timeout."""
    routes: dict[str, tuple[float, float | None]] = {}
    for item in value.split(","):
        if not item.strip():
            continue
        name, sep, seconds = item.partition("=")
        read, _, idle = seconds.partition("/")
        try:
            if not sep or "." not in name:
                raise ValueError(item)
            routes[name.strip()] = (float(read), float(idle) if idle.strip() else None)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"GATEWAY_UPSTREAM_ROUTE_TIMEOUTS entry {item.strip()!r} is not "
                "dialect.Endpoint=READ_SECONDS[/IDLE_SECONDS]"
            ) from exc
    return routes


DEV_SECRET_KEY = "dev-insecure-gateway-secret-key-change-me"
# A valid Fernet key used only for development; refused when DEBUG=False.
DEV_SECRETS_KEY = "ZGV2LWluc2VjdXJlLWdhdGV3YXktc2VjcmV0cy1rZXk="
DEV_KEY_PEPPER = "dev-insecure-gateway-key-pepper"

DEBUG = env_bool("DEBUG", "False")
SECRET_KEY = env_secret("SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Provider-secret encryption: comma-separated Fernet keys, newest first. Encryption uses the
# first; decryption tries each (MultiFernet), so adding a key in front and running
# `manage.py gateway_rotate_secrets` rotates without downtime.
GATEWAY_SECRETS_KEYS = [
    k.strip() for k in env_secret("GATEWAY_SECRETS_KEYS", DEV_SECRETS_KEY).split(",") if k.strip()
]
# Key pepper(s) for the HMAC of gateway keys: "id:value" pairs, newest first. A key hashed
# under an older pepper still verifies and is re-hashed under the newest on its next use.
GATEWAY_KEY_PEPPERS = [
    p.strip()
    for p in env_secret("GATEWAY_KEY_PEPPERS", f"1:{DEV_KEY_PEPPER}").split(",")
    if p.strip()
]

if not DEBUG:
    if SECRET_KEY == DEV_SECRET_KEY:
        raise ImproperlyConfigured("DEBUG=False with the development SECRET_KEY: set SECRET_KEY")
    if DEV_SECRETS_KEY in GATEWAY_SECRETS_KEYS:
        raise ImproperlyConfigured(
            "DEBUG=False with the development GATEWAY_SECRETS_KEYS: generate one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
        )
    if any(p.endswith(DEV_KEY_PEPPER) for p in GATEWAY_KEY_PEPPERS):
        raise ImproperlyConfigured("DEBUG=False with the development GATEWAY_KEY_PEPPERS")
    if "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "DEBUG=False with ALLOWED_HOSTS=*: list the gateway's host names"
        )

INSTALLED_APPS = [
    "gateway_site.apps.GatewayAdminConfig",  # django.contrib.admin with the product UI site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI/Redoc assets served locally (no CDN)
    "orgs",
    "secrets_vault",
    "policies",
    "proxy",
    "model_routes",  # named routes with fallbacks, for the unified endpoints
    "pricing",
    "tracing",
    "rollout",
    "api",
    "overview",  # the gateway overview page (checklist, charts, policy events)
    "accounts",  # sign-in: invitations, single sign-on, the member's own page
    "devtools",  # the fake provider, the demo set-up and the test servers
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's and API docs' static files under gunicorn/uvicorn (no web server needed).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gateway_site.urls"

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
]

WSGI_APPLICATION = "gateway_site.wsgi.application"
ASGI_APPLICATION = "gateway_site.asgi.application"

DATABASE_URL = env_str("DATABASE_URL")
# The embedded default (no DATABASE_URL), also used for a sqlite:/// URL.
SQLITE_DATABASE: dict[str, object] = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
    "OPTIONS": {
        # WAL: readers never wait for the writer. synchronous=NORMAL: a commit costs no
        # fsync (the WAL is synced at checkpoints; a power loss may drop the last
        # commits, never corrupt the file).
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        # Every transaction takes the write lock when it begins (BEGIN IMMEDIATE), so a
        # writer waits its turn (up to `timeout` seconds) instead of failing with
        # "database is locked" when it tries to upgrade a read transaction while the
        # run writer or another process holds the lock.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    },
    # Tests run on a file too, not Django's default in-memory database: the proxy's
    # loader threads and the test's own thread then share the database as the
    # gateway's processes do (WAL readers, writers queued by the busy timeout), where
    # the in-memory one locks whole tables between connections.
    "TEST": {
        "NAME": env_str(
            "SQLITE_TEST_PATH",
            str(Path(tempfile.gettempdir()) / f"llm-gateway-test-{os.getpid()}.sqlite3"),
        )
    },
}
if DATABASE_URL:
    DATABASES = {"default": parse_database_url(DATABASE_URL, sqlite=SQLITE_DATABASE)}
else:
    DATABASES = {"default": SQLITE_DATABASE}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One Redis server (redis://host:port/db) or a Redis Cluster (redis+cluster://host:port,host:port);
# every client is made by hotpath.redis_client from this one URL.
REDIS_URL = env_str("REDIS_URL")
REDIS_CLUSTER = False
if REDIS_URL:
    from hotpath import redis_client

    try:
        redis_client.check_url(REDIS_URL)
    except ValueError as exc:
        raise ImproperlyConfigured(f"REDIS_URL: {exc}") from exc
    REDIS_CLUSTER = redis_client.is_cluster(REDIS_URL)
if REDIS_CLUSTER:
    CACHES = {
        "default": {"BACKEND": "gateway_site.redis_cache.ClusterRedisCache", "LOCATION": REDIS_URL}
    }
    # Kombu speaks to one server: the cluster's master of the `{gw:celery}` slot, every Celery
    # key tagged with it (gateway_site/celery_cluster.py).
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "gwrediscluster://")
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": "{gw:celery}:"}
    CELERY_TASK_ALWAYS_EAGER = False
elif REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True  # no broker: tasks run in-process
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}

# --- Sign-in: invitations, e-mail, single sign-on (accounts/, docs/admin-setup.md) -------------
# Password logins and organization single sign-on (OpenID Connect, one provider per organization).
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "accounts.oidc.OrganizationOIDCBackend",
]
LOGIN_URL = "admin:login"
# The gateway's public origin, for links made outside a request (invitations from the CLI).
GATEWAY_PUBLIC_URL = env_str("GATEWAY_PUBLIC_URL", "http://127.0.0.1:8000")
# How long an invitation's (and a password reset's) one-time link works.
GATEWAY_INVITATION_HOURS = env_int("GATEWAY_INVITATION_HOURS", 72)
PASSWORD_RESET_TIMEOUT = GATEWAY_INVITATION_HOURS * 3600
# Invitations go through Django's mail backend: SMTP when EMAIL_HOST is set, else the console.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", "True")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "LLM Gateway <gateway@localhost>")
# mozilla-django-oidc: the provider's endpoints and client come from the organization's SSO
# settings (accounts.models.SsoProvider); these are the parts shared by every provider.
OIDC_AUTHENTICATION_CALLBACK_URL = "accounts:oidc-callback"
OIDC_USE_PKCE = True
OIDC_TIMEOUT = env_int("GATEWAY_OIDC_TIMEOUT", 10)  # seconds per request to an identity provider
LOGIN_REDIRECT_URL = "/admin/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# WhiteNoise serves straight from the apps' static folders when collectstatic has not been run
# (make run / make serve work without it); `manage.py collectstatic` then serves compressed copies.
WHITENOISE_USE_FINDERS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LLM Gateway management API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ApiKeyKindEnum": "orgs.models.ApiKey.Kind",
        "RoleScopeEnum": "orgs.models.Role.Scope",
        "PolicyScopeEnum": "policies.spend.models.SpendPolicy.Scope",
        "SpendLimitKindEnum": "policies.spend.models.SpendPolicy.Kind",
    },
}

# --- Gateway -------------------------------------------------------------------------------
# Hosts a non-superuser may use as a provider-secret base URL override (SSRF guard).
GATEWAY_UPSTREAM_ALLOWED_HOSTS = env_list("GATEWAY_UPSTREAM_ALLOWED_HOSTS")
GATEWAY_OPENAI_BASE_URL = env_str("GATEWAY_OPENAI_BASE_URL", "https://api.openai.com")
GATEWAY_ANTHROPIC_BASE_URL = env_str("GATEWAY_ANTHROPIC_BASE_URL", "https://api.anthropic.com")
GATEWAY_GEMINI_BASE_URL = env_str(
    "GATEWAY_GEMINI_BASE_URL", "https://generativelanguage.googleapis.com"
)
# Every gateway process reloads a snapshot (keys, secrets, prices, each policy kind) at once
# when the change signal says it changed; this is the safety net for a lost signal (seconds).
GATEWAY_SNAPSHOT_REFRESH_SECONDS = env_float("GATEWAY_SNAPSHOT_REFRESH_SECONDS", 30.0)
# The same-host change signal file (a memory-mapped generation per topic); empty = a file in
# the temp directory named after the database.
GATEWAY_CHANGES_FILE = env_str("GATEWAY_CHANGES_FILE", "")
# last_used_at is written at most this often per key (seconds).
GATEWAY_KEY_LAST_USED_INTERVAL = env_int("GATEWAY_KEY_LAST_USED_INTERVAL", 60)
GATEWAY_BIND = env_str("GATEWAY_BIND", "127.0.0.1:8000")
# SIGTERM: a gunicorn worker gives its calls in progress this long, then ends the ones still
# running (recorded as errors) and exits (gateway_site/gunicorn_conf.py, proxy/http_server.py).
GATEWAY_GRACEFUL_TIMEOUT = env_int("GATEWAY_GRACEFUL_TIMEOUT", 30)
# --- Proxy hot path (proxy/, docs/architecture.md §1-6) ---
# Policy gates run on every proxied call, in order (dotted paths): model access, rate limits,
# spend, then redaction (the cheapest refusals first; a later refusal releases what an earlier
# gate counted).
GATEWAY_PROXY_GATES = env_list(
    "GATEWAY_PROXY_GATES",
    "policies.modelaccess.gate.ModelAccessGate,policies.ratelimit.gate.RateLimitGate,"
    "policies.spend.gate.SpendGate,policies.redaction.gate.RedactionGate",
)
# Where call records go, in batches, from a worker thread (dotted path to sink(records)).
GATEWAY_RECORD_SINK = env_str("GATEWAY_RECORD_SINK", "tracing.shipping.ship_records")
GATEWAY_RECORD_QUEUE_SIZE = env_int("GATEWAY_RECORD_QUEUE_SIZE", 50_000)  # per process
GATEWAY_RECORD_BATCH_SIZE = env_int("GATEWAY_RECORD_BATCH_SIZE", 500)
# A record leaves the serving process (Redis, or the fsynced spool) at most this long after
# its call ended: what a killed worker can lose.
GATEWAY_RECORD_FLUSH_SECONDS = env_float("GATEWAY_RECORD_FLUSH_SECONDS", 0.05)
GATEWAY_MAX_BODY_BYTES = env_int("GATEWAY_MAX_BODY_BYTES", 32 * 1024 * 1024)  # 413 above
# Limits on what any client, keyless included, can make a gateway process hold (enforced by the
# server's HTTP protocol, proxy/http_server.py, for the admin and the API too).
GATEWAY_HTTP_MAX_REQUEST_LINE = env_int("GATEWAY_HTTP_MAX_REQUEST_LINE", 8190)  # bytes, 414 above
GATEWAY_HTTP_MAX_HEADERS = env_int("GATEWAY_HTTP_MAX_HEADERS", 100)  # header fields, 431 above
GATEWAY_HTTP_MAX_HEADER_BYTES = env_int("GATEWAY_HTTP_MAX_HEADER_BYTES", 64 * 1024)  # 431 above
# Seconds from a request's first byte (or the connection opening) to the end of its headers.
GATEWAY_HTTP_HEADER_TIMEOUT = env_float("GATEWAY_HTTP_HEADER_TIMEOUT", 10.0)
# Longest silence while a request body is being received (408).
GATEWAY_HTTP_BODY_TIMEOUT = env_float("GATEWAY_HTTP_BODY_TIMEOUT", 30.0)
GATEWAY_UPSTREAM_CONNECT_TIMEOUT = env_float("GATEWAY_UPSTREAM_CONNECT_TIMEOUT", 10.0)
# Longest wait for the provider: its response headers, each read of a whole body, a stream's
# first chunk (a model may think for minutes before answering).
GATEWAY_UPSTREAM_READ_TIMEOUT = env_float("GATEWAY_UPSTREAM_READ_TIMEOUT", 300.0)
# Longest silence between two chunks of a stream once it has started (not its total length).
GATEWAY_UPSTREAM_STREAM_IDLE_TIMEOUT = env_float("GATEWAY_UPSTREAM_STREAM_IDLE_TIMEOUT", 120.0)
# Per-route overrides: "openai.Responses=900,anthropic.Messages=600/180" (read[/idle] seconds).
GATEWAY_UPSTREAM_ROUTE_TIMEOUTS = parse_route_timeouts(env_str("GATEWAY_UPSTREAM_ROUTE_TIMEOUTS"))
GATEWAY_UPSTREAM_MAX_CONNECTIONS = env_int("GATEWAY_UPSTREAM_MAX_CONNECTIONS", 0)  # 0 = no cap
# Request/response content kept in a trace when the workspace turns on trace_content.
GATEWAY_TRACE_CONTENT_MAX_BYTES = env_int("GATEWAY_TRACE_CONTENT_MAX_BYTES", 256 * 1024)

# --- Tracing (tracing/) ----------------------------------------------------------------------
# Runs older than this are deleted by the beat task tracing.tasks.prune_runs (0 = keep forever).
GATEWAY_TRACE_RETENTION_DAYS = env_int("GATEWAY_TRACE_RETENTION_DAYS", 30)
# Usage rows (spend accounting) are kept longer; never less than 40 days whatever is set.
GATEWAY_USAGE_RETENTION_DAYS = env_int("GATEWAY_USAGE_RETENTION_DAYS", 400)
# Local spool for call records while Redis (or, without Redis, the database) is unreachable.
GATEWAY_SPOOL_DIR = env_str("GATEWAY_SPOOL_DIR", str(BASE_DIR / "var" / "spool"))
GATEWAY_SPOOL_MAX_BYTES = env_int("GATEWAY_SPOOL_MAX_BYTES", 512 * 1024 * 1024)  # per host
# OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces); empty = no export.
GATEWAY_OTLP_ENDPOINT = env_str("GATEWAY_OTLP_ENDPOINT")
# Redis stream the gateway appends call records to and Celery drains.
GATEWAY_RECORD_STREAM = env_str("GATEWAY_RECORD_STREAM", "gw:runs")
# A stream entry a worker read but did not acknowledge (it died, the database or Redis failed
# mid-batch) is taken over by the next drain once it has been idle this long (seconds).
GATEWAY_RECORD_CLAIM_IDLE_SECONDS = env_float("GATEWAY_RECORD_CLAIM_IDLE_SECONDS", 60.0)
# The runs indexes INCLUDE columns for PostgreSQL index-only scans; SQLite ignores them.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
CELERY_BEAT_SCHEDULE["tracing-drain-runs"] = {
    "task": "tracing.tasks.drain_runs",
    "schedule": 1.0,
    "options": {"expires": 5},
}
CELERY_BEAT_SCHEDULE["tracing-prune-runs"] = {
    "task": "tracing.tasks.prune_runs",
    "schedule": 600.0,
    "options": {"expires": 300},
}

# --- Spend limits (policies/spend_*.py, docs/architecture.md §3) -------------------------------
# Redis unreachable: False = refuse calls under a spend policy with 503 (fail closed), True = serve.
GATEWAY_SPEND_FAIL_OPEN = env_bool("GATEWAY_SPEND_FAIL_OPEN", "False")
# A reservation whose process died is released after this many seconds (longer than any call).
GATEWAY_SPEND_RESERVATION_TTL = env_float("GATEWAY_SPEND_RESERVATION_TTL", 900.0)
# Output bound assumed for a request that sets none, when the price table has no model maximum.
GATEWAY_SPEND_DEFAULT_MAX_OUTPUT_TOKENS = env_int("GATEWAY_SPEND_DEFAULT_MAX_OUTPUT_TOKENS", 32_768)
# --- Rate limits (policies/ratelimit/, docs/policies.md) ---------------------------------------
# Redis unreachable: False = refuse calls under a rate limit with 503 (fail closed), True = serve.
GATEWAY_RATE_LIMIT_FAIL_OPEN = env_bool("GATEWAY_RATE_LIMIT_FAIL_OPEN", "False")
CELERY_BEAT_SCHEDULE["spend-aggregate-totals"] = {
    "task": "policies.spend.tasks.aggregate_spend_totals",
    "schedule": 60.0,
    "options": {"expires": 50},
}
# Budget alerts (policies/spend/alerts.py): retries back off from this many seconds, doubling
# (at most 10 minutes), until GATEWAY_ALERT_MAX_ATTEMPTS; each attempt waits at most the timeout.
GATEWAY_ALERT_RETRY_SECONDS = env_float("GATEWAY_ALERT_RETRY_SECONDS", 10.0)
GATEWAY_ALERT_MAX_ATTEMPTS = env_int("GATEWAY_ALERT_MAX_ATTEMPTS", 8)
GATEWAY_ALERT_TIMEOUT_SECONDS = env_float("GATEWAY_ALERT_TIMEOUT_SECONDS", 10.0)
CELERY_BEAT_SCHEDULE["spend-alerts-sweep"] = {
    "task": "policies.spend.tasks.sweep_spend_alerts",
    "schedule": 60.0,
    "options": {"expires": 50},
}
# Usage summaries of the management API read closed days from per-day totals (api/usage.py).
CELERY_BEAT_SCHEDULE["tracing-usage-rollup"] = {
    "task": "tracing.tasks.refresh_usage_rollup",
    "schedule": 300.0,
    "options": {"expires": 240},
}

# --- PII and secrets redaction (policies/redaction/, docs/architecture.md §4) ------------------
# spaCy model added on top of the offline name/address detectors, and needed for NRP (e.g.
# en_core_web_lg); empty = offline detectors only.
GATEWAY_PII_NLP_MODEL = env_str("GATEWAY_PII_NLP_MODEL", "")
# Root of the per-workspace placeholder keys; empty = derived from SECRET_KEY. Changing it
# changes every placeholder (one prompt-cache miss per conversation).
GATEWAY_REDACTION_KEY = env_secret("GATEWAY_REDACTION_KEY", "")
GATEWAY_REDACTION_CACHE_ENTRIES = env_int("GATEWAY_REDACTION_CACHE_ENTRIES", 20_000)  # per process
GATEWAY_REDACTION_THREADS = env_int("GATEWAY_REDACTION_THREADS", 2)  # scanner threads per process
