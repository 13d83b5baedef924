"""One settings module, read from the environment, with safe local defaults.

Environment variables:
  DATABASE_URL         a PostGIS URL; default: the project-local cluster (var/pg/database_url)
  WANGGE_SECRET_KEY    Django's secret key; default: generated once into var/secret_key
  WANGGE_DEBUG         "1" for debug pages (never in production)
  WANGGE_ALLOWED_HOSTS comma-separated; default: localhost names
  WANGGE_BASEMAP       none | osm | tianditu  (default none: works with no internet)
  WANGGE_TIANDITU_KEY  the Tianditu key (tk) when WANGGE_BASEMAP=tianditu
  WANGGE_OUTBOX_CHANNELS  JSON: the outbound notification channels (default: capture only; docs/notifications.md)
  WANGGE_CACHE_URL     redis://… for a cache shared by several machines (needs `pip install redis`);
                       default: a file cache under var/, shared by the processes of this machine
"""

import json
import os
import secrets
from pathlib import Path

import dj_database_url
import pghistory
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("WANGGE_VAR_DIR", BASE_DIR / "var"))


def _local_secret(name: str) -> str:
    """A secret generated on first use and kept under var/, so a fresh install needs no configuration."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def _database_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    local = VAR_DIR / "pg" / "database_url"
    if local.exists():
        return local.read_text().strip()
    raise RuntimeError("No database: set DATABASE_URL or start the local cluster with `scripts/pg.sh start`.")


SECRET_KEY = os.environ.get("WANGGE_SECRET_KEY") or _local_secret("secret_key")
DEBUG = os.environ.get("WANGGE_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("WANGGE_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver").split(",")
# Behind a reverse proxy that terminates TLS and sets X-Forwarded-Proto (and drops any the client sent): requests
# count as HTTPS, so OpenRosa's Basic sign-in is offered and absolute URLs say https://.
if os.environ.get("WANGGE_BEHIND_TLS_PROXY") == "1":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pgtrigger",
    "pghistory",
    "procrastinate.contrib.django",
    "wangge.core",
    "wangge.accounts",
    "wangge.geo",
    "wangge.registry",
    "wangge.workforce",
    "wangge.cases",
    "wangge.campaigns",
    "wangge.integrations",
    "wangge.outbox",
    "wangge.kpi",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "wangge.core.middleware.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


# The change log (wangge.core.changelog) is read per object and per request, never by a tracked row's foreign keys:
# its event tables copy those keys without an index each, which every tracked write would otherwise maintain.
PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)
PGHISTORY_OBJ_FIELD = pghistory.ObjForeignKey(db_index=True)
PGHISTORY_CONTEXT_FIELD = pghistory.ContextForeignKey(db_index=True)

ROOT_URLCONF = "wangge.urls"
WSGI_APPLICATION = "wangge.wsgi.application"
ASGI_APPLICATION = "wangge.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "wangge" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# No health check (Django's default): it sent a "SELECT 1" round trip before every request's first query.
DATABASES = {"default": dj_database_url.parse(_database_url(), conn_max_age=60, conn_health_checks=False)}
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
if os.environ.get("WANGGE_TEST_DB"):
    # Lets several test runs share one cluster without sharing a test database.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["WANGGE_TEST_DB"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["wangge.accounts.backends.LockoutModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "geo:map"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "wangge.accounts.passwords.CharacterClassValidator", "OPTIONS": {"min_classes": 3}},
]
# Login lockout (MLPS level 3): this many failures within the window lock the account for the lock time.
WANGGE_LOGIN_MAX_FAILURES = int(os.environ.get("WANGGE_LOGIN_MAX_FAILURES", "5"))
WANGGE_LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("WANGGE_LOGIN_FAILURE_WINDOW_SECONDS", "900"))
WANGGE_LOGIN_LOCK_SECONDS = int(os.environ.get("WANGGE_LOGIN_LOCK_SECONDS", "900"))
# Sessions are read on every request: a cache in front of the session table saves a database round trip each time.
# The file cache is shared by every process on this machine, so a logout takes effect in all of them at once; a
# deployment on several machines points WANGGE_CACHE_URL at a shared Redis (redis://host:6379/0) instead.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["WANGGE_CACHE_URL"]}
    if os.environ.get("WANGGE_CACHE_URL")
    else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache")},
}
SESSION_COOKIE_AGE = int(os.environ.get("WANGGE_SESSION_SECONDS", str(8 * 3600)))
SESSION_COOKIE_HTTPONLY = True

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "wangge" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "wangge" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "wangge.accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "wangge.core.pagination.CodeCursorPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "wangge.core.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Wangge API",
    "DESCRIPTION": "Grid-based community governance (网格化社会治理)",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    # Several models have a `kind` (or a `status`): each choice set gets a name of its own in the schema.
    "ENUM_NAME_OVERRIDES": {"AreaKindEnum": "wangge.geo.models.Area.Kind",
                            "UrgencyEnum": "wangge.cases.models.Urgency",
                            "StatusEnum": "wangge.registry.models.PersonStatus",
                            "OutboxStatusEnum": "wangge.outbox.models.OutboxMessage.Status",
                            "CampaignStateEnum": "wangge.campaigns.models.CampaignState",
                            "ProposalStateEnum": "wangge.campaigns.models.ProposalState",
                            "VisitStatusEnum": "wangge.campaigns.models.VisitStatus",
                            "VisitSourceEnum": "wangge.campaigns.models.VisitSource",
                            "WorkerRoleEnum": "wangge.campaigns.models.WorkerRole",
                            "HouseholdStandingEnum": "wangge.campaigns.api.serializers.STANDING_CHOICES",
                            "GenerationStateEnum": "wangge.geo.models.Generation.State",
                            "EventSourceEnum": "wangge.cases.models.EventSource",
                            "MembershipRoleEnum": "wangge.workforce.models.MembershipRole"},
}

# The map's base layer. "none" needs no network at all; grids come from our own vector tiles.
WANGGE_BASEMAP = os.environ.get("WANGGE_BASEMAP", "none")
WANGGE_TIANDITU_KEY = os.environ.get("WANGGE_TIANDITU_KEY", "")


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("WANGGE_LOG_LEVEL", "WARNING")},
}
WANGGE_GEOMETRY_TOLERANCE_M2 = float(os.environ.get("WANGGE_GEOMETRY_TOLERANCE_M2", "1.0"))
WANGGE_BATCH_MAX_POINTS = int(os.environ.get("WANGGE_BATCH_MAX_POINTS", "1000000"))  # per batch lookup request
WANGGE_WORKING_HOURS = os.environ.get("WANGGE_WORKING_HOURS", "08:30-12:00,13:30-17:30").split(",")  # local time
WANGGE_IMPORT_MAX_BYTES = int(os.environ.get("WANGGE_IMPORT_MAX_BYTES", str(200 * 1024 * 1024)))  # per imported file

# Debian 12 ships GDAL 3.6, which cannot block file and network access from spatial references. Our importer
# only opens uploaded files through GDAL and the machine is offline by design; see docs/import-export.md.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

# Outbound notifications (docs/notifications.md): {name: {"class": dotted path, option: value, …}}, as JSON in
# WANGGE_OUTBOX_CHANNELS. The default sends nothing off the machine: the capture channel records each message in the
# database. Secrets are named by "*_env" options (the variable holding them), never written here.
OUTBOX_CHANNELS = json.loads(os.environ["WANGGE_OUTBOX_CHANNELS"]) if os.environ.get("WANGGE_OUTBOX_CHANNELS") else {
    "capture": {"class": "wangge.outbox.channels.CaptureChannel"},
}

# Background jobs (procrastinate, in the same PostgreSQL): each app's jobs live in its jobs.py.
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "jobs"
