"""The SCIM filters identity providers send: `attribute eq "value"`, one at a time."""

from __future__ import annotations

import re

from directory.scim.errors import ScimError

_EQ = re.compile(r'^\s*([A-Za-z][\w.:]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)


def parse_eq_filter(raw: str, allowed: dict[str, str]) -> tuple[str, str] | None:
    """(model field, value) of an `attr eq "value"` filter; None for no filter.

    - `allowed` maps lower-cased SCIM attributes to model fields; anything else is invalidFilter.
    """
    if not raw.strip():
        return None
    match = _EQ.match(raw)
    if match is None:
        raise ScimError(
            400, f'Unsupported filter: {raw[:200]}. Use attribute eq "value".', "invalidFilter"
        )
    attribute, value = match.group(1).lower(), re.sub(r"\\(.)", r"\1", match.group(2))
    if attribute not in allowed:
        names = ", ".join(sorted(allowed))
        raise ScimError(
            400, f"Cannot filter on {match.group(1)}; use one of {names}.", "invalidFilter"
        )
    return allowed[attribute], value


def paging(
    params: dict[str, str], *, default_count: int = 100, max_count: int = 200
) -> tuple[int, int]:
    """(startIndex ≥ 1, count between 0 and max_count) from the query string."""
    try:
        start = int(params.get("startIndex") or 1)
        count = int(params.get("count") if params.get("count") not in (None, "") else default_count)
    except ValueError:
        raise ScimError(400, "startIndex and count must be integers.", "invalidValue") from None
    return max(start, 1), min(max(count, 0), max_count)
