"""Signed webhooks to gateways: the outbox row is written with the resolution, sent after commit.

Delivery is the outbox's (`agenwork.outbox`, shared with approvers' notifications): `WEBHOOKS`
claims a due row, `_post` signs and POSTs it outside any transaction, and the outcome is recorded
on that claim only; a non-2xx answer or a network error is retried on `BACKOFF`, then fails.

Signature: header `Agenwork-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed
with the API key's webhook secret. Receivers check the HMAC and reject an old `t` (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta
from typing import Any

import requests

from agenwork.crypto import decrypt
from agenwork.outbox import Outbox, PermanentError, TransientError
from requests_app.models import AccessRequest, WebhookDelivery
from requests_app.serializers import request_payload

SIGNATURE_HEADER = "Agenwork-Signature"
TIMEOUT_SECONDS = 10
# Wait before each retry; the delivery fails for good after the last one.
BACKOFF = (
    timedelta(seconds=10),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=3),
)
WEBHOOKS: Outbox[WebhookDelivery] = Outbox(
    model=WebhookDelivery,
    task="requests_app.tasks.deliver_webhook",
    backoff=BACKOFF,
    done=WebhookDelivery.Status.DELIVERED,
    done_at="delivered_at",
    label="webhook",
    related=("api_key",),
)
MAX_ATTEMPTS = WEBHOOKS.max_attempts
STALE_CLAIM = WEBHOOKS.stale_claim
FRESH_GRACE = WEBHOOKS.fresh_grace


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The Agenwork-Signature header value for this body at this time."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, body: bytes, header: str, *, tolerance: int = 300, now: int | None = None):
    """True when the header signs this body with this secret within `tolerance` seconds."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or int(time.time())) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(
        sign(secret, body, timestamp), f"t={timestamp},v1={fields.get('v1', '')}"
    )


def webhook_queue(access_request: AccessRequest) -> WebhookDelivery | None:
    """Write the outbox row of a resolution (inside its transaction) and send it after commit."""
    api_key = access_request.api_key
    if api_key is None or not api_key.webhook_url or api_key.revoked_at:
        return None
    delivery, created = WebhookDelivery.objects.get_or_create(
        request=access_request,
        api_key=api_key,
        event="request.resolved",
        defaults={"url": api_key.webhook_url, "payload": request_payload(access_request)},
    )
    if created:
        WEBHOOKS.enqueue_after_commit(delivery.pk)
    return delivery


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> str:
    """Claim a due delivery, POST it outside any transaction, record the outcome."""
    return WEBHOOKS.send(delivery_id, _post, now=now)


def _post(delivery: WebhookDelivery) -> dict[str, Any]:
    """Sign and POST the frozen payload; a 2xx answer delivers it, anything else is retried."""
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    try:
        secret = decrypt(delivery.api_key.webhook_secret_encrypted)
    except ValueError as exc:
        raise PermanentError(str(exc), last_status_code=None) from exc
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "agenwork-webhooks/1",
        SIGNATURE_HEADER: sign(secret, body, int(time.time())),
        "Agenwork-Delivery": str(delivery.pk),
    }
    try:
        response = requests.post(delivery.url, data=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise TransientError(f"{type(exc).__name__}: {exc}", last_status_code=None) from exc
    code = response.status_code
    if not 200 <= code < 300:
        raise TransientError(f"HTTP {code}", last_status_code=code)
    return {"last_status_code": code}


def webhook_due_ids(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Deliveries whose time has come; stale claims a dead worker left are settled first."""
    return WEBHOOKS.due_ids(now=now, limit=limit)
