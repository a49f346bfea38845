"""Settings of the floor application: Django's defaults, the benchmark database, nothing else."""

import os

import dj_database_url

SECRET_KEY = os.environ.get("SECRET_KEY") or "benchmark-floor-only-secret-key-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.floor.urls"
USE_TZ = True
# Persistent connections as the product keeps them (agenwork/settings.py: conn_max_age=60).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/agenwork_bench",
        conn_max_age=60,
    )
}
