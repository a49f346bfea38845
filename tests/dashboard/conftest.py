"""Shared fixtures of the Dashboard and Activity tests."""

from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _no_cached_figures():
    """The Dashboard caches its figures for a minute: each test starts without them."""
    cache.clear()
    yield
    cache.clear()
