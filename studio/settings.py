"""Slate settings. Everything a deployment changes comes from the environment (see README)."""

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SLATE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """A per-checkout key kept in var/, so sessions survive restarts without configuration."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


def _env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).lower() in ("1", "true", "yes", "on")


SECRET_KEY = _secret_key()
DEBUG = _env_bool("DEBUG", False)
# HTTPS, for deployments behind TLS (docs/deploy.md). One switch turns on what `check --deploy`
# asks for; each part can still be set on its own.
SLATE_HTTPS = _env_bool("SLATE_HTTPS", False)
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", SLATE_HTTPS)
SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", SLATE_HTTPS)
CSRF_COOKIE_SECURE = _env_bool("CSRF_COOKIE_SECURE", SLATE_HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000 if SLATE_HTTPS else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", False)
if _env_bool("SLATE_BEHIND_PROXY", SLATE_HTTPS):  # the TLS proxy says which scheme it served
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "django_rq",
    "axes",
    "storyboards",
    "generation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it answers for a locked-out sign-in
]

# Password guessing (django-axes): after SLATE_LOGIN_FAILURES wrong passwords for one username
# from one address, that pair waits SLATE_LOGIN_COOLOFF_MIN minutes (429). Counted per pair, so a
# guesser elsewhere never locks the owner out of their own address, and nothing lasts forever.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("SLATE_LOGIN_FAILURES", 5))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("SLATE_LOGIN_COOLOFF_MIN", 15)))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "studio.auth.locked_out"
AXES_VERBOSE = False

ROOT_URLCONF = "studio.urls"
ASGI_APPLICATION = "studio.asgi.application"

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
                "storyboards.context.studio",
            ],
        },
    },
]

# SQLite (embedded, WAL) by default; DATABASE_URL points at PostgreSQL in CI and production.
SQLITE_PATH = VAR_DIR / "slate.sqlite3"
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{SQLITE_PATH}", conn_max_age=0, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Opening SQLite and setting its pragmas was ~8% of a busy web process: keep the connection
    # (views run on one thread per process under daphne; PostgreSQL deployments pool instead).
    DATABASES["default"]["CONN_MAX_AGE"] = 600
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE: a writer takes the lock up front instead of failing mid-transaction
        # when the web process and a worker write at once.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
if name := os.environ.get("SLATE_DB_NAME"):
    # Lets test subprocesses (daphne, workers) open the test database pytest created.
    DATABASES["default"]["NAME"] = name

# The one request body limit. Inpaint masks travel as base64 in JSON: allow up to a 4096 px PNG
# comfortably. Django checks it, and under daphne studio/bodylimit.py refuses a bigger body
# before it is read.
DATA_UPLOAD_MAX_MEMORY_SIZE = 24 * 2**20
# Project bundles (storyboards/bundle.py) carry every take: their upload paths get a limit of
# their own (studio/bodylimit.py; daphne hands a body to Django through memory, so keep it within
# what a web process may hold), and an import refuses a ZIP unpacking to more, or to more entries.
SLATE_BUNDLE_UPLOAD_MAX_BYTES = int(os.environ.get("SLATE_BUNDLE_UPLOAD_MAX_BYTES", 2**30))
SLATE_BUNDLE_MAX_BYTES = int(os.environ.get("SLATE_BUNDLE_MAX_BYTES", 4 * 2**30))
SLATE_BUNDLE_MAX_ENTRIES = int(os.environ.get("SLATE_BUNDLE_MAX_ENTRIES", 100_000))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True  # serve straight from the source tree: no collectstatic step

MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {
        "BACKEND": os.environ.get(
            "SLATE_MEDIA_STORAGE", "django.core.files.storage.FileSystemStorage"
        )
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # Longer than channels-redis' 5 s BZPOPMIN: redis-py's own 5 s default makes an
            # idle socket raise TimeoutError exactly when the blocking pop returns.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "capacity": 1500,
            "expiry": 30,
            "prefix": os.environ.get("SLATE_CHANNEL_PREFIX", "asgi"),
        },
    }
}
SLATE_QUEUE = os.environ.get("SLATE_QUEUE", "takes")  # the RQ queue GPU workers listen on
# Exports (PDF, animatic, ZIP, bundle) have their own workers: a long export never waits behind
# takes, nor takes behind it.
SLATE_EXPORT_QUEUE = os.environ.get("SLATE_EXPORT_QUEUE", "exports")
RQ_QUEUES = {
    SLATE_QUEUE: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900},
    SLATE_EXPORT_QUEUE: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900},
}
RQ_SHOW_ADMIN_LINK = True
# Enqueue at once: services already enqueue after their transaction commits (on_commit).
RQ = {"COMMIT_MODE": "auto"}

# --- Slate ---------------------------------------------------------------------------------
SLATE_SIGNUP_ENABLED = _env_bool("SLATE_SIGNUP_ENABLED", True)
SLATE_MODEL_DIR = Path(os.environ.get("SLATE_MODEL_DIR", VAR_DIR / "models"))
SLATE_DEFAULT_MODEL = os.environ.get("SLATE_DEFAULT_MODEL", "tiny")
SLATE_MAX_PROMPT = 2000
SLATE_PROGRESS_HZ = 10  # progress events per second per take, at most
SLATE_PREVIEW_EVERY = 2  # steps between latent previews
# Seconds a worker waits after each sampling step. 0 in production. Tests and rehearsals use it
# for a take that runs long (to cancel it, kill its worker, time it out) without burning CPU.
SLATE_STEP_DELAY_S = float(os.environ.get("SLATE_STEP_DELAY_S", 0))
SLATE_HEARTBEAT_S = float(
    os.environ.get("SLATE_HEARTBEAT_S", 5)
)  # a running take's worker touches it this often
SLATE_STALE_AFTER_S = int(os.environ.get("SLATE_STALE_AFTER_S", 30))  # then it counts as lost
SLATE_RECONCILE_EVERY_S = int(os.environ.get("SLATE_RECONCILE_EVERY_S", 10))
# Bytes daphne may hold for one socket whose reader stopped reading before it is cut off (4013).
SLATE_SOCKET_MAX_UNSENT = int(os.environ.get("SLATE_SOCKET_MAX_UNSENT", 4 * 2**20))
# Quotas, per member, counted in the database: takes waiting (queued or running) on one panel,
# and in the whole studio (a 500-panel "Generate all" fits; a script hammering one panel does not).
SLATE_MAX_WAITING_PER_PANEL = int(os.environ.get("SLATE_MAX_WAITING_PER_PANEL", 8))
SLATE_MAX_WAITING = int(os.environ.get("SLATE_MAX_WAITING", 1000))
SLATE_MAX_ATTEMPTS = 3  # a take whose worker dies this often ends failed
# C2PA Content Credentials on takes and exports: the chain PEM (signer first, then its CA) and the
# signer's ES256 key. Missing files are made on first use as a local CA (dev); a deployment sets
# its own (docs/provenance.md).
SLATE_C2PA_ENABLED = _env_bool("SLATE_C2PA_ENABLED", True)
SLATE_C2PA_CERT = Path(os.environ.get("SLATE_C2PA_CERT", VAR_DIR / "c2pa" / "chain.pem"))
SLATE_C2PA_KEY = Path(os.environ.get("SLATE_C2PA_KEY", VAR_DIR / "c2pa" / "signer.key"))
SLATE_C2PA_TSA_URL = os.environ.get("SLATE_C2PA_TSA_URL", "")  # RFC 3161 timestamps; none offline

# The tiny model's attention runs at half resolution: past 256 px it is slow for no benefit.
# max_step_pixels: steps x width x height (x frames) a take may cost. On this 2-core machine the
# tiny model runs 256x256 at about 2.2 s a step (0.18 at 128x128), and three times slower under
# load; 2**20 keeps the worst allowed take (16 steps at 256x256) well inside its 300 s timeout.
_TINY_LIMITS = {"min_size": 32, "max_size": 256, "max_steps": 50, "max_batch": 4, "max_frames": 16,
                "max_step_pixels": 2**20}  # fmt: skip
_UPSCALE_LIMITS = {"min_size": 32, "max_size": 256, "max_steps": 50, "max_batch": 4}
SLATE_MODELS = {
    "tiny": {
        "label": "Tiny SD (random weights: produces noise)",
        "kind": "stable-diffusion",
        "source": "builtin:tiny-sd",
        "revision": None,
        "tools": ["text2image", "variation", "inpaint", "video"],
        "defaults": {
            "steps": 4,
            "guidance": 5.0,
            "width": 64,
            "height": 64,
            "strength": 0.6,
            "num_frames": 8,
            "fps": 8,
        },
        "limits": _TINY_LIMITS,
        "timeout_s": 300,
        "motion_adapter": "builtin:tiny-motion",
        "preview": "linear",
        "upscalers": {"2": "tiny-upscale-x2", "4": "tiny-upscale-x4"},
    },
    "tiny-upscale-x2": {
        "label": "Tiny 2x upscaler (random weights)",
        "kind": "upscale",
        "scale": 2,
        "source": "builtin:tiny-upscale-x2",
        "tools": ["upscale"],
        "defaults": {"steps": 4, "guidance": 0.0},
        "limits": _UPSCALE_LIMITS,
        "timeout_s": 300,
    },
    "tiny-upscale-x4": {
        "label": "Tiny 4x upscaler (random weights)",
        "kind": "upscale",
        "scale": 4,
        "source": "builtin:tiny-upscale-x4",
        "tools": ["upscale"],
        "defaults": {"steps": 4, "guidance": 0.0},
        "limits": _UPSCALE_LIMITS,
        "timeout_s": 300,
    },
}
# More models (a real one such as stabilityai/sd-turbo, see README) come from a JSON file.
if models_file := os.environ.get("SLATE_MODELS_FILE"):
    SLATE_MODELS.update(json.loads(Path(models_file).read_text()))

if not _env_bool("SLATE_ALLOW_DOWNLOADS", False):
    # No code path may need the internet by default: fail fast instead of hanging on the hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "rq.worker": {"level": "WARNING"}},
}
