"""Settings read from the environment (django-environ), with defaults that are safe on one machine.

The embedded default needs no server: SQLite and a file-system Celery broker under DATA_DIR.
Production sets DATABASE_URL, CELERY_BROKER_URL and friends; see deploy/env.example.
"""

import secrets
from collections.abc import Callable
from pathlib import Path

import environ
from cryptography.fernet import Fernet

from recognition.operating_point import COHORT_THRESHOLD, DEFAULT_THRESHOLD

BASE_DIR = Path(__file__).resolve().parents[2]
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DATA_DIR = Path(env.str("FACEGATE_DATA_DIR", default=str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _persisted_secret(path: Path, make: Callable[[], str] = lambda: secrets.token_urlsafe(50)) -> str:
    """A random key made on first run and kept, so sessions survive restarts without a fixed string."""
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _persisted_secret(DATA_DIR / "secret_key")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "access.core",
    "access.accounts",
    "access.people",
    "access.doors",
    "access.cameras",
    "access.watchlists",
    "access.events",
    "access.decisions",
    "access.alerts",
    "access.live",
    "access.audit",
    "access.demo",
    "access.dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "access.audit.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "access.urls"
WSGI_APPLICATION = "access.wsgi.application"
ASGI_APPLICATION = "access.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'facegate.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A request is one transaction: a change and its audit entry commit together, or neither does.
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default has the web, the worker, beat and the camera service writing at once. WAL lets
    # readers go on while one writes; IMMEDIATE takes the write lock when a transaction begins (a deferred one
    # that reads, then writes, fails at once with "database is locked" when another wrote meanwhile); writers
    # wait up to 20 s for the lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(DATA_DIR / "static"))
MEDIA_URL = "media/"
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(DATA_DIR / "media"))

# Celery: the embedded default is kombu's file-system transport, so a real, separate worker
# process runs without any server. Production points these at Redis.
_BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("queue", "processed", "control"):
        (_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
        # A frame waits for the next poll: at kombu's default of 1 s most frames would reach the worker stale.
        "polling_interval": 0.02,
    }
    CELERY_BROKER_TRANSPORT = "access.core.broker:Transport"
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND", default=f"db+sqlite:///{DATA_DIR / 'celery-results.sqlite3'}"
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Without it Celery's Django fixup closes the database connection before and after every task, so each frame
# opened a new PostgreSQL connection (about 11 ms); recognition.tasks closes them as Django's request cycle
# does instead, when unusable or past CONN_MAX_AGE.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "recognition.tasks.enroll_sample": {"queue": "enrollment"},
    "recognition.tasks.process_frame": {"queue": "frames"},
}
CELERY_BEAT_SCHEDULE = {
    "prune-gallery-changes": {"task": "recognition.tasks.prune_gallery_changes", "schedule": 3600.0},
    "prune-stream-changes": {"task": "access.live.tasks.prune_changes", "schedule": 3600.0},
    # Doors whose controller or cameras went quiet get their fail mode; a sweep not run in time is skipped.
    "watch-doors": {
        "task": "access.doors.tasks.watch_doors",
        "schedule": env.float("FACEGATE_DOOR_WATCH_SECONDS", default=5.0),
        "options": {"expires": env.float("FACEGATE_DOOR_WATCH_SECONDS", default=5.0)},
    },
}

MQTT_URL = env.str("MQTT_URL", default="")
# Door commands: the frame worker sends them inline, so waiting is short (MQTT connect and PUBACK each, or
# each HTTP attempt). A command the broker still holds after the TTL expires unread: a late one opens nothing.
FACEGATE_DOOR_COMMAND_TIMEOUT_S = env.float("FACEGATE_DOOR_COMMAND_TIMEOUT_S", default=1.0)
FACEGATE_DOOR_COMMAND_TTL_S = env.float("FACEGATE_DOOR_COMMAND_TTL_S", default=10.0)
FACEGATE_DOOR_HTTP_ATTEMPTS = env.int("FACEGATE_DOOR_HTTP_ATTEMPTS", default=3)
FACEGATE_DOOR_HTTP_BACKOFF_S = env.float("FACEGATE_DOOR_HTTP_BACKOFF_S", default=0.2)
# Signs HTTP door commands and authenticates HTTP controllers' heartbeats (HMAC-SHA256); requests whose
# timestamp is further than FACEGATE_DOOR_HMAC_MAX_AGE_S from now are refused as replays.
FACEGATE_DOOR_HMAC_SECRET = env.str("FACEGATE_DOOR_HMAC_SECRET", default="")
FACEGATE_DOOR_HMAC_MAX_AGE_S = env.float("FACEGATE_DOOR_HMAC_MAX_AGE_S", default=60.0)
FACEGATE_HA_DISCOVERY_PREFIX = env.str("FACEGATE_HA_DISCOVERY_PREFIX", default="homeassistant")

# Face codes and images are encrypted at rest with these Fernet keys: the first encrypts, all decrypt
# (rotation: put a new key first). Losing the key loses every enrolled face; back up DATA_DIR.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEY", default=[]) or [
    _persisted_secret(DATA_DIR / "field_encryption_key", lambda: Fernet.generate_key().decode())
]
# The same variable and default as the engine's (recognition.config): a raw face-code distance.
FACEGATE_MATCH_THRESHOLD = env.float("FACEGATE_MATCH_THRESHOLD", default=DEFAULT_THRESHOLD)
# The impostor cohort `manage.py build_cohort` saves, encrypted; workers score with it while it is there.
FACEGATE_COHORT_FILE = Path(env.str("FACEGATE_COHORT_FILE", default=str(DATA_DIR / "cohort.enc")))
# The engine's threshold for cohort-normalised scores, with its variable and default: the dashboard draws it.
FACEGATE_COHORT_THRESHOLD = env.float("FACEGATE_COHORT_THRESHOLD", default=COHORT_THRESHOLD)
# Each worker process saves its gallery here, so that a restart loads it rather than decrypting every code.
FACEGATE_GALLERY_DIR = Path(env.str("FACEGATE_GALLERY_DIR", default=str(DATA_DIR / "gallery")))
# Gallery changes are kept this long; a worker offline for longer rebuilds its gallery from the database.
FACEGATE_GALLERY_HISTORY_DAYS = env.int("FACEGATE_GALLERY_HISTORY_DAYS", default=7)
FACEGATE_MAX_UPLOAD_BYTES = env.int("FACEGATE_MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)
FACEGATE_MAX_UPLOAD_PIXELS = env.int("FACEGATE_MAX_UPLOAD_PIXELS", default=40_000_000)
# Bulk enrollment by zip archive: its size, packed and unpacked, and how many files it may hold.
FACEGATE_MAX_ZIP_BYTES = env.int("FACEGATE_MAX_ZIP_BYTES", default=200 * 1024 * 1024)
FACEGATE_MAX_ZIP_MEMBERS = env.int("FACEGATE_MAX_ZIP_MEMBERS", default=2000)
# A frame older than this when a worker picks it up is dropped (and counted): the door must not act on the
# past.
FACEGATE_MAX_FRAME_AGE_S = env.float("FACEGATE_MAX_FRAME_AGE_S", default=1.0)
# A blocklisted or missing person seen again by the same camera within this many seconds raises no new alert.
FACEGATE_ALERT_DEDUP_SECONDS = env.float("FACEGATE_ALERT_DEDUP_SECONDS", default=300.0)
# Alerts go by e-mail to these addresses and as signed JSON to these webhooks (see access/alerts/delivery.py).
FACEGATE_ALERT_EMAILS = env.list("FACEGATE_ALERT_EMAILS", default=[])
FACEGATE_ALERT_WEBHOOK_URLS = env.list("FACEGATE_ALERT_WEBHOOK_URLS", default=[])
FACEGATE_WEBHOOK_SECRET = env.str("FACEGATE_WEBHOOK_SECRET", default="")
FACEGATE_WEBHOOK_TIMEOUT_S = env.float("FACEGATE_WEBHOOK_TIMEOUT_S", default=5.0)
FACEGATE_ALERT_DELIVERY_RETRIES = env.int("FACEGATE_ALERT_DELIVERY_RETRIES", default=6)
# Where people reach this server: links in alerts (snapshot, alert) are made absolute with it.
FACEGATE_PUBLIC_URL = env.str("FACEGATE_PUBLIC_URL", default="http://localhost:8000")
# SMTP from one URL, e.g. smtp+tls://user:password@mail.example.com:587; the default prints mail to the log.
_EMAIL = env.email_url("EMAIL_URL", default="consolemail://")
globals().update({name: value for name, value in _EMAIL.items() if value is not None})
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="FaceGate <facegate@localhost>")
# The live stream (/api/stream/) polls the change log this often, sends a comment when idle this long so
# proxies keep the connection, and ends after its lifetime so the client reconnects (and a thread frees up).
FACEGATE_STREAM_POLL_SECONDS = env.float("FACEGATE_STREAM_POLL_SECONDS", default=0.25)
FACEGATE_STREAM_HEARTBEAT_SECONDS = env.float("FACEGATE_STREAM_HEARTBEAT_SECONDS", default=15.0)
FACEGATE_STREAM_MAX_SECONDS = env.float("FACEGATE_STREAM_MAX_SECONDS", default=300.0)
# Streams one web process serves at most (each holds a thread): keep it below gunicorn's --threads.
FACEGATE_STREAM_MAX_CLIENTS = env.int("FACEGATE_STREAM_MAX_CLIENTS", default=24)
# A client that comes back after longer than this resumes from the present: older changes are pruned hourly.
FACEGATE_STREAM_HISTORY_HOURS = env.float("FACEGATE_STREAM_HISTORY_HOURS", default=24.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header is what makes a missing login a 401 rather than a 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["access.accounts.permissions.RolePermissions"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=50),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "access.core.api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "FaceGate API",
    "DESCRIPTION": "Face-recognition access control: people, watchlists, doors, cameras, events and alerts.",
    "VERSION": "1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": "/api/",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
