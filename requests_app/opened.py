"""When an approver opened a request, carried in the decision form instead of written on GET.

- The page signs (request id, time it was rendered) into a hidden field; the decision reads it
  back and records how long the approver looked before deciding.
- A missing, tampered, foreign or future value means "unknown": never an error.
"""

from __future__ import annotations

import time
from uuid import UUID

from django.core import signing

SALT = "agenwork.requests.opened"
FIELD = "opened"
# The column is a PositiveIntegerField of milliseconds: longer looks are recorded as unknown.
LONGEST_MS = 2**31 - 1


def _now_ms() -> int:
    return int(time.time() * 1000)


def opened_token(public_id: UUID | str, now_ms: int | None = None) -> str:
    """A signed "this request was shown at this instant" for the decision form."""
    return signing.dumps([str(public_id), now_ms if now_ms is not None else _now_ms()], salt=SALT)


def response_ms(token: str, public_id: UUID | str, now_ms: int | None = None) -> int | None:
    """Milliseconds from showing the request to deciding it, or None when the token is unusable."""
    try:
        shown_for, shown_at = signing.loads(token or "", salt=SALT)
    except (signing.BadSignature, TypeError, ValueError):
        return None
    if shown_for != str(public_id) or not isinstance(shown_at, int):
        return None
    elapsed = (now_ms if now_ms is not None else _now_ms()) - shown_at
    return elapsed if 0 <= elapsed <= LONGEST_MS else None
