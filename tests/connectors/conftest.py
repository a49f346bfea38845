"""Fixtures of the Connectors tests: the demo scenario, static files from source."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from connectors.models import Connector


@pytest.fixture(autouse=True)
def _static_from_source(settings) -> None:
    """`make test` runs collectstatic first; a bare pytest run resolves {% static %} from source."""
    if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    """seed_demo sets two demo passwords; PBKDF2 would slow every test down."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo(db) -> dict[str, Connector]:
    """The DESIGN §9 scenario through `seed_demo --requests 0`, its connectors by slug."""
    call_command("seed_demo", requests=0, stdout=StringIO(), stderr=StringIO())
    return {connector.slug: connector for connector in Connector.objects.all()}
