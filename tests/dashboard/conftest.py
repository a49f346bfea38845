"""Shared fixtures of the Dashboard and Activity tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _static_without_manifest(settings):
    """`make test` runs collectstatic first; a bare pytest run resolves {% static %} from source."""
    if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }


@pytest.fixture(autouse=True)
def _no_cached_figures():
    """The Dashboard caches its figures for a minute: each test starts without them."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def persona_client(request):
    """The logged-in client of the persona named by the test's `persona` parameter."""
    return request.getfixturevalue(f"{request.param}_client")
