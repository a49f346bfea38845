"""The SCIM filters identity providers send (`attribute eq "value"`, one at a time) and paging."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Q

from directory.scim.errors import ScimError
from directory.scim.paths import CORE_PREFIXES

MAX_START = 2**31
_EQ = re.compile(r'^\s*([A-Za-z][\w.:]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)


def parse_eq_filter(raw: str, allowed: dict[str, Callable[[str], Q]]) -> Q | None:
    """The condition of an `attr eq "value"` filter; None for no filter.

    - `allowed` maps lower-cased SCIM attributes to conditions; anything else is invalidFilter.
      The attribute may carry its core schema's URN.
    """
    if not raw.strip():
        return None
    match = _EQ.match(raw)
    if match is None:
        raise ScimError(
            400, f'Unsupported filter: {raw[:200]}. Use attribute eq "value".', "invalidFilter"
        )
    attribute, value = match.group(1).lower(), re.sub(r"\\(.)", r"\1", match.group(2))
    for prefix in CORE_PREFIXES:
        attribute = attribute.removeprefix(prefix)
    if attribute not in allowed:
        names = ", ".join(sorted(allowed))
        raise ScimError(
            400, f"Cannot filter on {match.group(1)[:100]}; use one of {names}.", "invalidFilter"
        )
    return allowed[attribute](value)


def paging(
    params: Mapping[str, Any], *, default_count: int = 100, max_count: int = 200
) -> tuple[int, int]:
    """(startIndex ≥ 1, count between 0 and max_count) from the query string or a search body.

    - A startIndex past any real list still answers an empty page, never a database error.
    """
    try:
        start = int(params.get("startIndex") or 1)
        count = int(params.get("count") if params.get("count") not in (None, "") else default_count)
    except (TypeError, ValueError):
        raise ScimError(400, "startIndex and count must be integers.", "invalidValue") from None
    return min(max(start, 1), MAX_START), min(max(count, 0), max_count)
