"""Signed webhooks to gateways: the outbox row is written with the resolution, sent after commit.

Signature: header `Agenwork-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed
with the API key's webhook secret. Receivers check the HMAC and reject an old `t` (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta

import requests
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from agenwork.broker import publish_after_commit
from agenwork.crypto import decrypt
from requests_app.models import AccessRequest, WebhookDelivery
from requests_app.serializers import request_payload

logger = logging.getLogger(__name__)

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
MAX_ATTEMPTS = len(BACKOFF) + 1
STALE_CLAIM = timedelta(minutes=5)


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
        transaction.on_commit(lambda: _enqueue(delivery.pk), robust=True)
    return delivery


def _enqueue(delivery_id: int) -> None:
    from requests_app.tasks import deliver_webhook

    publish_after_commit(deliver_webhook, delivery_id)


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> str:
    """Claim a due delivery, POST it outside any transaction, record the outcome."""
    now = now or timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(status=WebhookDelivery.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return "not_due"
    delivery = WebhookDelivery.objects.select_related("api_key").get(pk=delivery_id)
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    try:
        secret = decrypt(delivery.api_key.webhook_secret_encrypted)
    except ValueError as exc:
        return _record(delivery, code=None, error=str(exc), permanent=True)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "agenwork-webhooks/1",
        SIGNATURE_HEADER: sign(secret, body, int(time.time())),
        "Agenwork-Delivery": str(delivery.pk),
    }
    try:
        response = requests.post(delivery.url, data=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        return _record(delivery, code=None, error=f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return _record(delivery, code=response.status_code, error="")
    return _record(delivery, code=response.status_code, error=f"HTTP {response.status_code}")


def _record(
    delivery: WebhookDelivery, *, code: int | None, error: str, permanent: bool = False
) -> str:
    now = timezone.now()
    fields: dict[str, object] = {"last_status_code": code, "last_error": error, "claimed_at": None}
    if not error:
        fields.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now)
    elif permanent or delivery.attempts >= MAX_ATTEMPTS:
        fields.update(status=WebhookDelivery.Status.FAILED)
    else:
        fields.update(
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at=now + BACKOFF[delivery.attempts - 1],
        )
    WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.SENDING).update(
        **fields
    )
    if error:
        logger.warning("webhook %s to %s: %s", delivery.pk, delivery.url, error)
    return str(fields["status"])


def webhook_due_ids(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Deliveries whose time has come, and claims a dead worker left behind."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.SENDING, claimed_at__lt=now - STALE_CLAIM
    ).update(status=WebhookDelivery.Status.PENDING, claimed_at=None)
    return list(
        WebhookDelivery.objects.filter(
            Q(status=WebhookDelivery.Status.PENDING), next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
