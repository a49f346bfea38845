"""Fixtures of the operations tests."""

from __future__ import annotations

from tests.support.webhooks import receiver  # noqa: F401 (a fixture)
