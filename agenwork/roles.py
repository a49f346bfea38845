"""Who may use the console: admins see everything, approvers see what they may decide."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def is_admin(user: Any) -> bool:
    """An admin is an active staff login."""
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def admin_required(message: str) -> Callable[[View], View]:
    """A view decorator: anonymous → login; a login that is not an admin → 403 with `message`."""

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not is_admin(request.user):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
