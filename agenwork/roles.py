"""Who may use the console: admins see everything, approvers see what they may decide."""

from __future__ import annotations

from typing import Any


def is_admin(user: Any) -> bool:
    """An admin is an active staff login."""
    return bool(user.is_authenticated and user.is_active and user.is_staff)
