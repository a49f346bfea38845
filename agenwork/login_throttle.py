"""Login throttling: after too many failures for a username or from an address, a cool-off.

- Failures are counted per username (any address) and per client address (any username); the
  address limit is higher, since an office shares one address. Reaching a limit blocks that
  username or address until LOGIN_COOLOFF_SECONDS have passed since its last failure: a cool-off,
  never a permanent lock. A blocked attempt is not even checked.
- Counts live in the cache (Redis in production, shared by every web process), counted with the
  cache's `add` and `incr` (atomic on Redis), so concurrent failures are each counted. A count
  expires LOGIN_COOLOFF_SECONDS after its last failure: a stale count starts over.
- A successful login clears its username's count.
"""

from __future__ import annotations

import hashlib
import math
import time

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest

THROTTLED = "throttled"


def clock() -> float:
    """Seconds since the epoch; tests move it instead of sleeping."""
    return time.time()


def client_address(request: HttpRequest) -> str:
    """The client's address: behind a proxy, the last X-Forwarded-For hop (the one it added)."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.BEHIND_PROXY and forwarded:
        return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return [
        (f"login-failures:user:{name}", settings.LOGIN_FAILURES_PER_USERNAME),
        (f"login-failures:addr:{address}", settings.LOGIN_FAILURES_PER_ADDRESS),
    ]


def seconds_blocked(username: str, address: str) -> int:
    """How long this username or address must still wait (0: it may try)."""
    now, wait = clock(), 0.0
    cooloff = settings.LOGIN_COOLOFF_SECONDS
    for key, limit in _keys(username, address):
        found = cache.get_many([f"{key}:count", f"{key}:last"])
        count, last = found.get(f"{key}:count", 0), found.get(f"{key}:last")
        if last is not None and count >= limit and now < last + cooloff:
            wait = max(wait, last + cooloff - now)
    return math.ceil(wait)


def record_failure(username: str, address: str) -> None:
    """Count one failure for the username and for the address, and when it happened."""
    now, cooloff = clock(), settings.LOGIN_COOLOFF_SECONDS
    for key, _limit in _keys(username, address):
        _count_one(f"{key}:count", timeout=cooloff)
        cache.set(f"{key}:last", now, timeout=cooloff)


def _count_one(key: str, *, timeout: int) -> None:
    """Add one to the count at `key` without reading it first; it then lives `timeout` seconds.

    - `add` creates the count only when it is missing; `incr` adds to it atomically (on Redis).
      The count may expire between the two: then it starts over, created by the next `add`.
    - `incr` keeps (Redis) or resets (file cache) the expiry: `touch` sets it from this failure.
    """
    while not cache.add(key, 1, timeout=timeout):
        try:
            cache.incr(key)
            break
        except ValueError:  # expired since the add found it
            continue
    cache.touch(key, timeout=timeout)


def clear_failures(username: str) -> None:
    """A successful login forgets the username's failures."""
    key = _keys(username, "")[0][0]
    cache.delete_many([f"{key}:count", f"{key}:last"])


class ThrottledLoginMixin:
    """Refuse a blocked username or address before checking the password; count failures."""

    request: HttpRequest | None
    throttled = False

    def clean(self) -> dict:
        username = self.data.get("username", "")  # type: ignore[attr-defined]
        address = client_address(self.request) if self.request else ""
        wait = seconds_blocked(username, address)
        if wait:
            minutes = max(1, math.ceil(wait / 60))
            self.throttled = True
            raise forms.ValidationError(
                f"Too many failed logins for this account or from this address. "
                f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
                code=THROTTLED,
            )
        try:
            cleaned = super().clean()  # type: ignore[misc]
        except forms.ValidationError:
            record_failure(username, address)
            raise
        clear_failures(username)
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    """The console's login form."""


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """The Django admin's login form, throttled alike."""
