"""The JSON shape of a request, as the API returns it and as webhooks carry it."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.urls import reverse

from requests_app.models import AccessRequest


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def request_urls(access_request: AccessRequest) -> dict[str, str]:
    """Where a gateway polls the request, and where a person reviews it."""
    public_id = str(access_request.public_id)
    status_url, review_url = _url_templates(settings.SITE_URL)
    return {
        "status_url": status_url.replace(_PLACEHOLDER, public_id),
        "review_url": review_url.replace(_PLACEHOLDER, public_id),
    }


_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


@cache
def _url_templates(site_url: str) -> tuple[str, str]:
    """The two URLs with a placeholder id, reversed once: every pending decision answers them."""
    return (
        site_url + reverse("api:request", args=[_PLACEHOLDER]),
        site_url + reverse("requests_app:detail", args=[_PLACEHOLDER]),
    )


def request_payload(access_request: AccessRequest) -> dict[str, Any]:
    """The request's outcome: status per tool, who decided, when, through what, until when."""
    return {
        "id": str(access_request.public_id),
        "status": access_request.status,
        "tools": [{"tool": rt.tool.key, "status": rt.status} for rt in access_request.tools.all()],
        "decided_at": _iso(access_request.decided_at),
        "decided_by": access_request.decided_by_name or None,
        "decided_via": access_request.decided_via or None,
        "comment": access_request.comment,
        "grant_expires_at": _iso(access_request.grant_expires_at),
        "consumed_at": _iso(access_request.consumed_at),
    }
