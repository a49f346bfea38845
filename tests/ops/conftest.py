"""Fixtures of the operations tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.webhooks import receiver  # noqa: F401 (a fixture)


@pytest.fixture(autouse=True)
def _static_without_manifest(settings):
    """`make test` runs collectstatic first; a bare pytest run resolves {% static %} from source."""
    if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
