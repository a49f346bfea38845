"""WSGI entry point (gunicorn agenwork.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from agenwork.checks import log_problems_at_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agenwork.settings")
application = get_wsgi_application()
# gunicorn runs no system checks: say at start what would make every page fail.
log_problems_at_start()
