"""Switchboard settings: every knob is read from the environment here, once.

With no variables set this is the *embedded* mode (SQLite, local-memory cache,
in-memory channel layer, a file-system Celery broker). Setting ``DATABASE_URL``
and ``REDIS_URL`` switches to the full stack. The README's configuration table
lists the same names; keep the two in step.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

import dj_database_url
import dj_email_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from environs import Env, EnvError
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = Env(eager=False)  # collect every bad variable, then fail once naming them all


def _env_error(exc: Exception) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"Invalid environment configuration: {exc}")


# --- core --------------------------------------------------------------------
# Where the embedded mode keeps its SQLite file, broker queue and generated secret key.
DATA_DIR = Path(env.str("DATA_DIR", str(BASE_DIR / "var"))).resolve()
# Never on in production: shows tracebacks to users.
DEBUG = env.bool("DEBUG", False)
# The signing key. Unset: generated once and kept in DATA_DIR (fine for one machine only).
SECRET_KEY = env.str("SECRET_KEY", "")
# Host names this deployment answers to.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
# Origins allowed to POST forms when behind a proxy or on another port (https://portal.example.com).
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])
# Serve only over HTTPS: redirect, secure cookies, HSTS. `make run` turns it off for plain http on loopback.
HTTPS_ONLY = env.bool("HTTPS_ONLY", True)
# Trust X-Forwarded-Proto and X-Forwarded-For from the load balancer in front of us.
TRUST_X_FORWARDED_PROTO = env.bool("TRUST_X_FORWARDED_PROTO", False)
# How many trusted proxies append to X-Forwarded-For; the caller is that many entries from the right.
TRUSTED_PROXY_HOPS = env.int("TRUSTED_PROXY_HOPS", 1)
# The public URL of this deployment, used in e-mails and docs. Default: where `make run` serves, from
# HOST and PORT (a wildcard address such as 0.0.0.0 is not one a browser can open: 127.0.0.1 instead).
_HOST = env.str("HOST", "127.0.0.1").strip("[]")
_HOST = "127.0.0.1" if _HOST in ("", "0.0.0.0", "::") else _HOST
SITE_URL = env.str("SITE_URL", "") or f"http://{f'[{_HOST}]' if ':' in _HOST else _HOST}:{env.int('PORT', 8000)}"

# --- data --------------------------------------------------------------------
# PostgreSQL in production (postgres://user:pass@host:5432/db); SQLite file when unset.
DATABASE_URL = env.str("DATABASE_URL", "")
# Redis for cache, rate limits, channel layer and Celery broker; unset: in-process equivalents.
REDIS_URL = env.str("REDIS_URL", "")
# Celery broker; defaults to REDIS_URL, else a file-system queue under DATA_DIR.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", "")
# How long any Redis call may wait to connect, and for an answer (seconds); then it fails and the caller degrades.
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", 0.5)
# How long a task a dead worker held waits before another worker gets it (seconds; Redis broker).
BROKER_VISIBILITY_TIMEOUT_SECONDS = env.int("BROKER_VISIBILITY_TIMEOUT_SECONDS", 600)
# How long a pooled PostgreSQL connection lives (seconds).
DB_CONN_MAX_AGE = env.int("DB_CONN_MAX_AGE", 60)

# --- identity ----------------------------------------------------------------
# E-mail domains allowed to sign up without an invitation (comma-separated). Empty: invitation only.
SIGNUP_ALLOWED_DOMAINS = [d.lower() for d in env.list("SIGNUP_ALLOWED_DOMAINS", [])]
# Platform admins must enrol a TOTP authenticator before using the site.
REQUIRE_ADMIN_MFA = env.bool("REQUIRE_ADMIN_MFA", True)
# OpenID Connect single sign-on; enabled when OIDC_SERVER_URL is set.
OIDC_SERVER_URL = env.str("OIDC_SERVER_URL", "")
OIDC_CLIENT_ID = env.str("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", "")
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", "Company SSO")
# How e-mail leaves: console:// (default, prints), smtp://user:pass@host:587/?tls=True, ...
EMAIL_URL = env.str("EMAIL_URL", "console://")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "switchboard@localhost")

# --- audit trail -----------------------------------------------------------------
# The key of the audit chain's HMAC, kept outside the database. Unset: generated once into DATA_DIR.
AUDIT_HMAC_KEY = env.str("AUDIT_HMAC_KEY", "")
# Derives each person's playground key secret (HMAC of a per-key salt), so no secret is stored.
# Unset: generated once into DATA_DIR; set it in any multi-host deployment.
PLAYGROUND_KEY_SECRET = env.str("PLAYGROUND_KEY_SECRET", "")
# Where the playground calls the gateway: this server itself (where it listens), by default.
PLAYGROUND_GATEWAY_URL = env.str("PLAYGROUND_GATEWAY_URL", "") or (
    f"http://{f'[{_HOST}]' if ':' in _HOST else _HOST}:{env.int('PORT', 8000)}")
# The append-only file of signed checkpoints of the audit chain's head (JSON lines). Unset: in DATA_DIR.
AUDIT_CHECKPOINT_PATH = env.str("AUDIT_CHECKPOINT_PATH", "")

# --- registry ------------------------------------------------------------------
# Fernet keys (comma-separated, newest first) encrypting provider secrets stored as `enc:`
# references. Unset: one key generated into DATA_DIR (embedded mode only).
SECRETS_ENCRYPTION_KEYS = env.list("SECRETS_ENCRYPTION_KEYS", [])
# AWS region for `aws-sm:` secret references and Bedrock catalogue sync when a provider names none.
AWS_DEFAULT_REGION = env.str("AWS_DEFAULT_REGION", "us-east-1")

# --- gateway -------------------------------------------------------------------
# Largest request body /v1/ accepts (bytes); larger is 413. Images travel base64 inside it.
GATEWAY_MAX_BODY_BYTES = env.int("GATEWAY_MAX_BODY_BYTES", 16 * 1024 * 1024)
# How long a caller may take to send the whole body (seconds); slower is 408 and the connection is freed.
GATEWAY_BODY_TIMEOUT_SECONDS = env.float("GATEWAY_BODY_TIMEOUT_SECONDS", 30.0)
# How often each gateway process checks whether keys, subscriptions or routes changed (seconds).
GATEWAY_CONFIG_POLL_SECONDS = env.float("GATEWAY_CONFIG_POLL_SECONDS", 0.5)
# How often queued usage events and refusals are written out (seconds).
GATEWAY_METER_FLUSH_SECONDS = env.float("GATEWAY_METER_FLUSH_SECONDS", 1.0)
# Limits and metering (README "Plans and limits"). Off only to measure what governance costs (make bench):
# no limits are enforced and usage events wait in memory for the next flush (lost if the process dies).
GATEWAY_GOVERNANCE = env.bool("GATEWAY_GOVERNANCE", True)
# The Responses API keeps a response (``store``, on unless the caller says ``store: false``) this many days,
# for ``GET /v1/responses/{id}`` and ``previous_response_id``; a housekeeping task deletes it afterwards.
GATEWAY_RESPONSES_RETENTION_DAYS = env.int("GATEWAY_RESPONSES_RETENTION_DAYS", 30)
# Files applications upload (``POST /v1/files``, the Batch API's input and output): on S3 when
# FILES_S3_BUCKET is set (credentials from boto3's usual chain: role, environment, profile), else in FILES_DIR
# (DATA_DIR/files unless set: every web server and worker must see the same directory, e.g. a shared volume).
FILES_DIR = Path(env.str("FILES_DIR", "") or DATA_DIR / "files").resolve()
FILES_S3_BUCKET = env.str("FILES_S3_BUCKET", "")
_FILES_STORAGE = (
    {"BACKEND": "storages.backends.s3.S3Storage",
     "OPTIONS": {"bucket_name": FILES_S3_BUCKET, "location": env.str("FILES_S3_PREFIX", "switchboard-files"),
                 "region_name": env.str("FILES_S3_REGION", "") or None,
                 "endpoint_url": env.str("FILES_S3_ENDPOINT_URL", "") or None,
                 "default_acl": None, "file_overwrite": False}}
    if FILES_S3_BUCKET else
    {"BACKEND": "django.core.files.storage.FileSystemStorage",
     "OPTIONS": {"location": str(FILES_DIR), "base_url": None}}
)
# The largest file /v1/files takes (bytes; OpenAI's batch input limit is 200 MB), how long an upload may take
# (seconds), and how long a file is kept unless its upload asked for less (days).
FILES_MAX_BYTES = env.int("FILES_MAX_BYTES", 200 * 1024 * 1024)
FILES_UPLOAD_TIMEOUT_SECONDS = env.float("FILES_UPLOAD_TIMEOUT_SECONDS", 600.0)
FILES_RETENTION_DAYS = env.int("FILES_RETENTION_DAYS", 30)
# The Batch API (README "Batches"): at most this many lines a batch; each line is sent to the gateway at
# BATCH_GATEWAY_URL (this server, by default), at most BATCH_CONCURRENCY at a time per batch, and only while the
# key's rate limits have more than (1 - BATCH_LIMIT_SHARE) of their room left, so live calls keep the rest.
# A runner renews its hold on a batch every few seconds; one gone for BATCH_LEASE_SECONDS is replaced. A line
# whose gateway call died is called again after BATCH_LINE_LEASE_SECONDS (longer than any call may take).
BATCH_MAX_LINES = env.int("BATCH_MAX_LINES", 50_000)
BATCH_CONCURRENCY = env.int("BATCH_CONCURRENCY", 4)
BATCH_LIMIT_SHARE = env.float("BATCH_LIMIT_SHARE", 0.5)
# ... and an endpoint with a ``max_in_flight`` takes a batch line only while less than this share of it is in use.
BATCH_ENDPOINT_SHARE = env.float("BATCH_ENDPOINT_SHARE", 0.5)
BATCH_LEASE_SECONDS = env.float("BATCH_LEASE_SECONDS", 30.0)
BATCH_LINE_LEASE_SECONDS = env.float("BATCH_LINE_LEASE_SECONDS", 900.0)
BATCH_GATEWAY_URL = env.str("BATCH_GATEWAY_URL", "") or PLAYGROUND_GATEWAY_URL
# Webhooks (budget alerts, batches): https only where HTTPS_ONLY is on, and never to a private or internal
# address (loopback, RFC 1918, link-local, CGNAT) unless its network is listed here, e.g. "10.20.0.0/16".
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", HTTPS_ONLY)
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", [])
# The plan an application follows when it names none.
DEFAULT_PLAN = env.str("DEFAULT_PLAN", "standard")
# A call in flight longer than this no longer holds a concurrency slot or a strict-budget reservation
# (so a gateway process killed mid-call cannot hold them for ever).
GATEWAY_MAX_CALL_SECONDS = env.int("GATEWAY_MAX_CALL_SECONDS", 900)
# How many gateway processes share the limits when Redis is unreachable and a plan fails open: each
# process then enforces 1/N of every rate and concurrency limit on its own.
# (An empty WEB_CONCURRENCY, as the compose file passes through, means bin/serve's default: set before it starts
# the workers, whose settings then read the number.)
GATEWAY_PROCESSES = env.int("GATEWAY_PROCESSES", int(os.environ.get("WEB_CONCURRENCY") or 1))
# Retries and fallback (README "Routing and resilience"): tries of one endpoint for a transient failure
# (connect error, 5xx, 429) before the next route; at most this many tries in all per call.
GATEWAY_ROUTE_ATTEMPTS = env.int("GATEWAY_ROUTE_ATTEMPTS", 2)
GATEWAY_MAX_ATTEMPTS = env.int("GATEWAY_MAX_ATTEMPTS", 4)
# Backoff before retrying one endpoint: full jitter up to base × 2^(try-1), at most the cap (seconds).
GATEWAY_RETRY_BACKOFF_SECONDS = env.float("GATEWAY_RETRY_BACKOFF_SECONDS", 0.1)
GATEWAY_RETRY_BACKOFF_MAX_SECONDS = env.float("GATEWAY_RETRY_BACKOFF_MAX_SECONDS", 2.0)
# An upstream's Retry-After up to this long is waited out when no other route is left; longer, the call fails.
GATEWAY_RETRY_AFTER_MAX_SECONDS = env.float("GATEWAY_RETRY_AFTER_MAX_SECONDS", 5.0)
# Circuit breaker per endpoint (README "Routing and resilience"): within a sliding window of this many seconds,
# at least MIN_CALLS tries of which a share of at least FAILURE_RATE failed (connect error, timeout, 429, 5xx)
# open the endpoint's circuit: it is skipped for OPEN_SECONDS, then up to HALF_OPEN_PROBES calls at a time
# probe it (a success closes it, a failure opens it again).
GATEWAY_BREAKER_WINDOW_SECONDS = env.float("GATEWAY_BREAKER_WINDOW_SECONDS", 30.0)
GATEWAY_BREAKER_MIN_CALLS = env.int("GATEWAY_BREAKER_MIN_CALLS", 5)
GATEWAY_BREAKER_FAILURE_RATE = env.float("GATEWAY_BREAKER_FAILURE_RATE", 0.5)
GATEWAY_BREAKER_OPEN_SECONDS = env.float("GATEWAY_BREAKER_OPEN_SECONDS", 15.0)
GATEWAY_BREAKER_HALF_OPEN_PROBES = env.int("GATEWAY_BREAKER_HALF_OPEN_PROBES", 1)
# Full stack: how often each gateway process pushes its endpoint counts to Redis and pulls the circuits' states.
GATEWAY_BREAKER_SYNC_SECONDS = env.float("GATEWAY_BREAKER_SYNC_SECONDS", 0.5)
# How long a call waits for a free slot of an endpoint at its max_in_flight before trying the next route (seconds).
GATEWAY_INFLIGHT_WAIT_SECONDS = env.float("GATEWAY_INFLIGHT_WAIT_SECONDS", 0.25)
# Shadow traffic (README "Routing and resilience"): the most mirrored calls to shadow routes one gateway process
# runs at once; a shadow drawn beyond it is dropped and counted (0: no shadow calls at all).
GATEWAY_SHADOW_MAX_IN_FLIGHT = env.int("GATEWAY_SHADOW_MAX_IN_FLIGHT", 16)
# The Redis stream the gateway appends usage events to (full stack), and how long an entry a consumer
# took may sit unacknowledged before another worker claims it (a worker killed mid-batch).
USAGE_STREAM = env.str("USAGE_STREAM", "sb:usage")
USAGE_STREAM_CLAIM_IDLE_SECONDS = env.float("USAGE_STREAM_CLAIM_IDLE_SECONDS", 30.0)
# The embedded mode's usage journal: append-only segments, written before each response ends.
USAGE_JOURNAL_DIR = Path(env.str("USAGE_JOURNAL_DIR", "") or DATA_DIR / "usage-journal").resolve()
# Raw ledger rows are pruned after this many days; the hourly and daily rollups are kept.
USAGE_RETENTION_DAYS = env.int("USAGE_RETENTION_DAYS", 90)
# Use-case recommendations (recommendations/scoring.py): the window measured, and how many calls and votes a
# model needs in it before it is ranked.
RECOMMENDATION_WINDOW_DAYS = env.int("RECOMMENDATION_WINDOW_DAYS", 30)
RECOMMENDATION_MIN_CALLS = env.int("RECOMMENDATION_MIN_CALLS", 20)
RECOMMENDATION_MIN_VOTES = env.int("RECOMMENDATION_MIN_VOTES", 5)
# Payload records (the call texts a tenant's payload logging keeps) are deleted after this many days.
PAYLOAD_RETENTION_DAYS = env.int("PAYLOAD_RETENTION_DAYS", 30)
# Budget alert thresholds, percent of a budget (each sent once per period).
# How often a worker checks the budgets of the callers it wrote usage for (each check sums their period's spend).
BUDGET_ALERT_CHECK_SECONDS = env.float("BUDGET_ALERT_CHECK_SECONDS", 30.0)
BUDGET_ALERT_THRESHOLDS = tuple(env.list("BUDGET_ALERT_THRESHOLDS", [50, 80, 100], subcast=int))

# --- logging -----------------------------------------------------------------
# DEBUG, INFO, WARNING, ERROR.
LOG_LEVEL = env.str("LOG_LEVEL", "INFO").upper()
# json (one object per line, for collectors) or console (coloured, for people).
LOG_FORMAT = env.str("LOG_FORMAT", "json")

try:
    env.seal()
except EnvError as exc:
    raise _env_error(exc) from exc

if LOG_FORMAT not in {"json", "console"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'console', not {LOG_FORMAT!r}")
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {LOG_LEVEL!r}")
if not 0 < GATEWAY_BREAKER_FAILURE_RATE <= 1:
    raise ImproperlyConfigured("GATEWAY_BREAKER_FAILURE_RATE must be above 0 and at most 1")
if GATEWAY_BREAKER_MIN_CALLS < 1 or GATEWAY_BREAKER_HALF_OPEN_PROBES < 1:
    raise ImproperlyConfigured("GATEWAY_BREAKER_MIN_CALLS and GATEWAY_BREAKER_HALF_OPEN_PROBES must be at least 1")
if min(GATEWAY_BREAKER_WINDOW_SECONDS, GATEWAY_BREAKER_OPEN_SECONDS, GATEWAY_BREAKER_SYNC_SECONDS) <= 0:
    raise ImproperlyConfigured("GATEWAY_BREAKER_WINDOW_SECONDS, _OPEN_SECONDS and _SYNC_SECONDS must be above 0")
if GATEWAY_SHADOW_MAX_IN_FLIGHT < 0:
    raise ImproperlyConfigured(f"GATEWAY_SHADOW_MAX_IN_FLIGHT must be 0 or more, not {GATEWAY_SHADOW_MAX_IN_FLIGHT}")
if TRUSTED_PROXY_HOPS < 1:
    raise ImproperlyConfigured(f"TRUSTED_PROXY_HOPS must be 1 or more, not {TRUSTED_PROXY_HOPS}")
if OIDC_SERVER_URL and not (OIDC_CLIENT_ID and OIDC_CLIENT_SECRET):
    raise ImproperlyConfigured("OIDC_SERVER_URL is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are required too")

DATA_DIR.mkdir(parents=True, exist_ok=True)
(DATA_DIR / "staticfiles").mkdir(exist_ok=True)


def _generated_once(filename: str, make: Callable[[], str]) -> str:
    """A per-checkout key for the embedded mode, made by ``make`` once into DATA_DIR with mode 0600."""
    path = DATA_DIR / filename
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


SECRET_KEY = SECRET_KEY or _generated_once("secret_key", lambda: secrets.token_urlsafe(50))
AUDIT_HMAC_KEY = AUDIT_HMAC_KEY or _generated_once("audit_hmac_key", lambda: secrets.token_urlsafe(50))
AUDIT_CHECKPOINT_PATH = Path(AUDIT_CHECKPOINT_PATH or DATA_DIR / "audit_checkpoints.jsonl").resolve()
SECRETS_ENCRYPTION_KEYS = SECRETS_ENCRYPTION_KEYS or [_generated_once("secrets_key", _fernet_key)]
PLAYGROUND_KEY_SECRET = PLAYGROUND_KEY_SECRET or _generated_once(
    "playground_key_secret", lambda: secrets.token_urlsafe(50))

EMBEDDED = not DATABASE_URL
EMBEDDED_REDIS = not REDIS_URL

# --- applications ------------------------------------------------------------
INSTALLED_APPS = [
    "aiplatform",
    "registry",
    "portal",
    "gateway",
    "examples",
    "recommendations",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "channels",
]

MIDDLEWARE = [
    "aiplatform.middleware.RequestIdMiddleware",
    "aiplatform.middleware.RefuseNulInQueryMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "aiplatform.middleware.RequireAdminMfaMiddleware",
]

ROOT_URLCONF = "aiplatform.urls"
WSGI_APPLICATION = "aiplatform.wsgi.application"
ASGI_APPLICATION = "aiplatform.asgi.application"
AUTH_USER_MODEL = "aiplatform.User"
SITE_ID = 1

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",  # csp_nonce, for htmx and Swagger UI
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "aiplatform.context_processors.navigation",
                "portal.context_processors.notifications",
                "portal.context_processors.guardrail_links",
            ],
        },
    },
]

# --- database ----------------------------------------------------------------
# Every SQLite database, the embedded one or a sqlite:// DATABASE_URL: WAL lets the web server read while the
# worker writes; IMMEDIATE takes the write lock up front so concurrent writers queue (up to busy_timeout)
# instead of failing with "database is locked" when a read transaction tries to become a write.
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
    "transaction_mode": "IMMEDIATE",
}
if EMBEDDED:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "switchboard.sqlite3",
            "OPTIONS": dict(SQLITE_OPTIONS),
        }
    }
else:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=DB_CONN_MAX_AGE)}
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc
    if DATABASES["default"]["ENGINE"] not in {
        "django.db.backends.postgresql",
        "django.db.backends.sqlite3",
    }:
        raise ImproperlyConfigured("DATABASE_URL must be a postgres:// or sqlite:// URL")
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache, channels, broker --------------------------------------------------
if EMBEDDED_REDIS:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "switchboard"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("REDIS_URL must be a redis://, rediss:// or unix:// URL")
    # Without socket timeouts a hung Redis (accepting, never answering) holds every caller for good.
    CACHES = {
        "default": {
            # Django's Redis cache, answering as a miss when Redis fails (aiplatform/cache.py): never a 500.
            "BACKEND": "aiplatform.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "sb",
            "OPTIONS": {"socket_timeout": REDIS_TIMEOUT_SECONDS, "socket_connect_timeout": REDIS_TIMEOUT_SECONDS},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # Reads wait longer than the layer's 5-second blocking pops, which would otherwise time out.
                "hosts": [{"address": REDIS_URL, "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                           "socket_timeout": 10}],
                "prefix": "sb:channels",
            },
        }
    }

BROKER_DIR = DATA_DIR / "broker"
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A publish on a hung Redis fails after this instead of waiting for good (kombu's default).
        "socket_timeout": 5,
        "socket_connect_timeout": 2,
        # A task a killed worker held goes back to the queue after this long (kombu's default is an hour,
        # so one kill held a usage batch back that long). Longer than any task runs (a catalogue sync,
        # the longest, takes seconds to a couple of minutes), or a running task would be handed out twice.
        "visibility_timeout": BROKER_VISIBILITY_TIMEOUT_SECONDS,
    }
if CELERY_BROKER_URL == "filesystem://":
    # Zero-setup broker for the embedded mode: the worker `make run` starts reads this folder.
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),  # else kombu writes ./control in the working directory
        "store_processed": False,
    }
    # kombu's transport with atomic message writes (aiplatform/broker.py explains the race it closes).
    CELERY_BROKER_TRANSPORT = "aiplatform.broker:Transport"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a task a dying worker held is redelivered, so tasks are idempotent
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Queues by kind of work, so a backlog of one never delays another: ``metering`` (the gateway's usage into the
# ledger: the one that must keep up), ``batches`` (the Batch API's lines), ``housekeeping`` (rollups, purges,
# catalogue sync, audit checkpoints) and ``celery`` (the rest: webhook deliveries, mail). A worker started
# without ``-Q`` (``make run``, the tests) consumes them all; the compose file runs one worker per kind.
CELERY_TASK_QUEUES = [Queue(name) for name in ("celery", "metering", "batches", "housekeeping")]
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "portal.drain_usage": {"queue": "metering"},
    "portal.record_gateway_report": {"queue": "metering"},
    "portal.record_shadow_results": {"queue": "metering"},
    "portal.reconcile_usage": {"queue": "metering"},
    "portal.rollup_usage_hourly": {"queue": "housekeeping"},
    "portal.rollup_usage_daily": {"queue": "housekeeping"},
    "portal.prune_usage_ledger": {"queue": "housekeeping"},
    "portal.prune_payload_records": {"queue": "housekeeping"},
    "portal.purge_expired_files": {"queue": "housekeeping"},
    "portal.run_batch": {"queue": "batches"},
    "portal.resume_stalled_batches": {"queue": "batches"},
    "gateway.purge_expired_responses": {"queue": "housekeeping"},
    "registry.sync_catalogues": {"queue": "housekeeping"},
    "recommendations.rank_use_cases": {"queue": "housekeeping"},
    "aiplatform.write_audit_checkpoint": {"queue": "housekeeping"},
}
CELERY_TIMEZONE = "UTC"

# --- auth and identity ---------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_ADAPTER = "aiplatform.accounts.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "aiplatform.accounts.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"  # sign-up by domain is only as good as proof of the address
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
# Throttling (allauth keeps the counters in the cache, so Redis in the full stack).
ACCOUNT_RATE_LIMITS = {
    "login_failed": "5/5m/ip,5/5m/key",
    "login": "30/m/ip",
    "signup": "10/h/ip",
    "reset_password": "5/h/ip,3/h/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Switchboard"
SOCIALACCOUNT_ONLY = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # never link an SSO login to an account by e-mail alone
SOCIALACCOUNT_PROVIDERS: dict = {"openid_connect": {"APPS": []}}
if OIDC_SERVER_URL:
    SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"].append(
        {
            "provider_id": "sso",
            "name": OIDC_PROVIDER_NAME,
            "client_id": OIDC_CLIENT_ID,
            "secret": OIDC_CLIENT_SECRET,
            "settings": {"server_url": OIDC_SERVER_URL},
        }
    )

# --- e-mail ----------------------------------------------------------------------
try:
    _email = dj_email_url.parse(EMAIL_URL)
except (ValueError, KeyError) as exc:
    raise ImproperlyConfigured(f"EMAIL_URL is not a valid e-mail URL: {exc}") from exc
if not _email.get("EMAIL_BACKEND"):
    raise ImproperlyConfigured(f"EMAIL_URL has an unknown scheme: {EMAIL_URL.split(':', 1)[0]!r}")
if _email["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend":
    _email["EMAIL_BACKEND"] = "aiplatform.mail.ConsoleEmailBackend"  # long links on one line (aiplatform/mail.py)
vars().update(_email)

# --- security ----------------------------------------------------------------------
SESSION_COOKIE_SECURE = HTTPS_ONLY
CSRF_COOKIE_SECURE = HTTPS_ONLY
SECURE_SSL_REDIRECT = HTTPS_ONLY
SECURE_HSTS_SECONDS = 31536000 if HTTPS_ONLY else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS_ONLY
SECURE_HSTS_PRELOAD = HTTPS_ONLY  # the header alone commits nothing until the domain is submitted
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # probes speak plain http inside the cluster
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (Django's CSP middleware). The product loads nothing from other
# origins; the few inline <script>/<style> blocks (htmx, Swagger UI) carry the per-request nonce, so a
# stored javascript: link or injected markup cannot run.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],  # Swagger UI draws its icons as data: images
    "connect-src": [CSP.SELF],  # also same-origin WebSockets (ws:/wss: on the same host)
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
CSRF_FAILURE_VIEW = "aiplatform.views.csrf_failure"
if TRUST_X_FORWARDED_PROTO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- i18n, static ------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Front-end packages (Pico CSS) come from node_modules/, pinned in package-lock.json and installed by `make install`.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "aiplatform.frontend_packages.NodePackagesFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    "files": _FILES_STORAGE,
}
WHITENOISE_USE_FINDERS = DEBUG

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every API (registry, portal) takes a personal access token or the browser's session, set once here.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.authentication.PersonalAccessTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "aiplatform.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": "Self-service API of the Switchboard AI platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # JavaScript, not JSON (drf-spectacular passes a string through): the top bar's spec picker needs the
    # standalone preset and layout. It lists the portal's /api/ and the gateway's /v1/ (gateway/openapi.yaml).
    # The last preset drops the top bar's logo, an SVG with an inline <style> the CSP (rightly) refuses; no
    # validatorUrl, or that layout's badge would send the document's URL to an outside validator.
    "SWAGGER_UI_SETTINGS": """{
      deepLinking: true,
      urls: [
        {url: "/api/schema/", name: "Portal and registry API (/api/)"},
        {url: "/api/gateway/schema/", name: "Gateway API (/v1/)"},
      ],
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset, () => ({components: {Logo: () => null}})],
      layout: "StandaloneLayout",
      validatorUrl: null,
    }""",
}

# --- logging -------------------------------------------------------------------------------
from aiplatform.logging import configure_logging  # noqa: E402  (needs the values above)

LOGGING_CONFIG = None
configure_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)
