"""Signed webhooks to a real HTTP receiver on 127.0.0.1: delivery, signature, retries, claims.

The receiver (tests/support/webhooks.py) runs in a thread of the test process, checks every
Agenwork-Signature with requests_app.webhooks.verify, and records what it got; it can be told to
answer 500.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from agenwork.crypto import decrypt
from gateways.models import ApiKey
from gateways.services import IssuedKey, api_key_create, api_key_revoke
from requests_app.models import AccessRequest, WebhookDelivery
from requests_app.services import Actor, request_approve, request_deny
from requests_app.tasks import deliver_webhook, sweep
from requests_app.webhooks import (
    BACKOFF,
    FRESH_GRACE,
    MAX_ATTEMPTS,
    SIGNATURE_HEADER,
    STALE_CLAIM,
    sign,
    verify,
    webhook_deliver,
    webhook_due_ids,
    webhook_queue,
)
from tests.api.conftest import ANA, CALENDAR, CREATE, Gateway
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.django_db

DANA = Actor(name="Dana Levi", channel="web")
Status = WebhookDelivery.Status


@pytest.fixture
def hooked(db, receiver: Receiver) -> IssuedKey:
    """A key whose webhook points at the receiver, which knows the secret shown once."""
    issued = api_key_create(name="hooked gateway", webhook_url=receiver.url)
    assert issued.webhook_secret
    receiver.secret = issued.webhook_secret
    return issued


@pytest.fixture
def hooked_gateway(hooked: IssuedKey) -> Gateway:
    return Gateway(hooked.raw_key)


@pytest.fixture
def eager(settings, celery_eager) -> None:
    """Celery runs tasks inline, as if a worker picked them up at once."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


def pending_request(gateway: Gateway) -> AccessRequest:
    response = gateway.decide(ANA, CALENDAR, [CREATE], arguments={"summary": "QBR"})
    assert response.status_code == 200, response.content
    return AccessRequest.objects.get(public_id=response.json()["request"]["id"])


def resolved_delivery(gateway: Gateway) -> WebhookDelivery:
    """Approve a new request without running on-commit callbacks: the outbox row is pending."""
    access_request = pending_request(gateway)
    request_approve(access_request=access_request, actor=DANA)
    return WebhookDelivery.objects.get(request=access_request)


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- delivery after commit ---------------------------------------------------------------------


def test_an_approval_posts_one_signed_webhook_whose_body_is_the_get_payload(
    demo, hooked_gateway: Gateway, receiver: Receiver, eager, django_capture_on_commit_callbacks
):
    access_request = pending_request(hooked_gateway)
    assert receiver.hits == []

    with django_capture_on_commit_callbacks(execute=True):
        request_approve(access_request=access_request, actor=DANA, duration=timedelta(hours=1))

    assert len(receiver.hits) == 1
    hit = receiver.hits[0]
    assert hit.verified
    assert hit.path == "/hooks/agenwork"
    assert hit.headers["Content-Type"] == "application/json"
    status = hooked_gateway.status(access_request.public_id)
    assert json.loads(hit.body) == status.json()
    delivery = WebhookDelivery.objects.get(request=access_request)
    assert hit.headers["Agenwork-Delivery"] == str(delivery.pk)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        Status.DELIVERED,
        1,
        200,
    )
    assert delivery.delivered_at is not None


def test_nothing_is_sent_before_the_resolution_commits(
    demo, hooked_gateway: Gateway, receiver: Receiver, eager, django_capture_on_commit_callbacks
):
    access_request = pending_request(hooked_gateway)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request_deny(access_request=access_request, actor=DANA)

    assert receiver.hits == []
    assert WebhookDelivery.objects.get(request=access_request).status == Status.PENDING
    assert callbacks, "the send is scheduled for after commit"


def test_a_cancel_through_the_api_is_a_resolution_and_is_posted(
    demo, hooked_gateway: Gateway, receiver: Receiver, eager, django_capture_on_commit_callbacks
):
    access_request = pending_request(hooked_gateway)

    with django_capture_on_commit_callbacks(execute=True):
        response = hooked_gateway.cancel(access_request.public_id)

    assert response.status_code == 200
    assert len(receiver.hits) == 1
    assert receiver.hits[0].verified
    assert json.loads(receiver.hits[0].body) == response.json()
    assert json.loads(receiver.hits[0].body)["status"] == "cancelled"


def test_a_key_without_a_webhook_url_gets_no_delivery(demo, gateway: Gateway):
    access_request = pending_request(gateway)

    request_approve(access_request=access_request, actor=DANA)

    assert not WebhookDelivery.objects.exists()


def test_a_revoked_keys_request_gets_no_delivery(demo, hooked: IssuedKey, hooked_gateway):
    access_request = pending_request(hooked_gateway)
    api_key_revoke(api_key=hooked.api_key)
    access_request.refresh_from_db()

    request_approve(access_request=access_request, actor=DANA)

    assert not WebhookDelivery.objects.exists()


def test_queueing_the_same_resolution_twice_keeps_one_outbox_row(demo, hooked_gateway: Gateway):
    delivery = resolved_delivery(hooked_gateway)

    again = webhook_queue(delivery.request)

    assert again is not None and again.pk == delivery.pk
    assert WebhookDelivery.objects.count() == 1


def test_the_payload_is_frozen_at_resolution(demo, hooked_gateway: Gateway, receiver: Receiver):
    delivery = resolved_delivery(hooked_gateway)
    assert hooked_gateway.consume(delivery.request.public_id).status_code == 200

    assert webhook_deliver(delivery_id=delivery.pk) == Status.DELIVERED

    sent = json.loads(receiver.hits[0].body)
    assert sent["status"] == "approved"
    assert sent["consumed_at"] is None


# --- delivering twice is impossible ------------------------------------------------------------


def test_a_delivered_webhook_is_never_sent_again(demo, hooked_gateway, receiver: Receiver):
    delivery = resolved_delivery(hooked_gateway)

    first = webhook_deliver(delivery_id=delivery.pk)
    second = webhook_deliver(delivery_id=delivery.pk, now=timezone.now() + timedelta(days=1))
    third = deliver_webhook(delivery.pk)

    assert (first, second, third) == ("delivered", "not_due", "not_due")
    assert len(receiver.hits) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_a_delivery_claimed_by_another_worker_is_not_sent(demo, hooked_gateway, receiver):
    delivery = resolved_delivery(hooked_gateway)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENDING, claimed_at=timezone.now()
    )

    assert webhook_deliver(delivery_id=delivery.pk) == "not_due"
    assert receiver.hits == []


def test_a_delivery_not_yet_due_is_not_sent(demo, hooked_gateway, receiver: Receiver):
    delivery = resolved_delivery(hooked_gateway)
    later = timezone.now() + timedelta(minutes=5)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=later)

    assert webhook_deliver(delivery_id=delivery.pk) == "not_due"
    assert receiver.hits == []
    assert webhook_deliver(delivery_id=delivery.pk, now=later) == "delivered"


# --- retries -----------------------------------------------------------------------------------


def test_a_receiver_answering_500_puts_the_delivery_back_with_backoff(
    demo, hooked_gateway: Gateway, receiver: Receiver
):
    receiver.status = 500
    delivery = resolved_delivery(hooked_gateway)

    outcome = webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    now = timezone.now()
    assert outcome == Status.PENDING
    assert delivery.status == Status.PENDING
    assert delivery.attempts == 1
    assert delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500"
    assert delivery.claimed_at is None
    assert now < delivery.next_attempt_at <= now + BACKOFF[0]
    assert len(receiver.hits) == 1 and receiver.hits[0].verified
    # Not due yet: an immediate second try sends nothing.
    assert webhook_deliver(delivery_id=delivery.pk) == "not_due"
    assert len(receiver.hits) == 1


def test_after_every_attempt_fails_the_delivery_is_failed_for_good(
    demo, hooked_gateway: Gateway, receiver: Receiver
):
    receiver.status = 500
    delivery = resolved_delivery(hooked_gateway)
    outcomes = []

    for attempt in range(1, MAX_ATTEMPTS + 1):
        delivery.refresh_from_db()
        now = delivery.next_attempt_at
        outcomes.append(webhook_deliver(delivery_id=delivery.pk, now=now))
        delivery.refresh_from_db()
        assert delivery.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert delivery.next_attempt_at - now == BACKOFF[attempt - 1]

    assert outcomes == [Status.PENDING] * (MAX_ATTEMPTS - 1) + [Status.FAILED]
    assert delivery.status == Status.FAILED
    assert len(receiver.hits) == MAX_ATTEMPTS
    far_future = timezone.now() + timedelta(days=30)
    assert webhook_deliver(delivery_id=delivery.pk, now=far_future) == "not_due"
    assert delivery.pk not in webhook_due_ids(now=far_future)
    assert len(receiver.hits) == MAX_ATTEMPTS


def test_a_retry_that_succeeds_delivers(demo, hooked_gateway: Gateway, receiver: Receiver):
    receiver.status = 503
    delivery = resolved_delivery(hooked_gateway)
    assert webhook_deliver(delivery_id=delivery.pk) == Status.PENDING
    receiver.status = 204
    delivery.refresh_from_db()

    assert webhook_deliver(delivery_id=delivery.pk, now=delivery.next_attempt_at) == "delivered"

    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (2, 204, "")
    assert receiver.hits[0].body == receiver.hits[1].body, "a retry sends the same payload"


def test_a_refused_connection_is_retried(demo, db):
    issued = api_key_create(name="down gateway", webhook_url=f"http://127.0.0.1:{closed_port()}/")
    delivery = resolved_delivery(Gateway(issued.raw_key))

    outcome = webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert outcome == Status.PENDING
    assert delivery.status == Status.PENDING
    assert delivery.attempts == 1
    assert delivery.last_status_code is None
    assert "ConnectionError" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()


def test_an_undecryptable_secret_fails_the_delivery_without_sending(
    demo, hooked: IssuedKey, hooked_gateway: Gateway, receiver: Receiver
):
    delivery = resolved_delivery(hooked_gateway)
    ApiKey.objects.filter(pk=hooked.api_key.pk).update(webhook_secret_encrypted="garbage")

    assert webhook_deliver(delivery_id=delivery.pk) == Status.FAILED
    assert receiver.hits == []


# --- the sweep ---------------------------------------------------------------------------------


def outbox_row(access_request: AccessRequest, api_key: ApiKey, event: str, **fields):
    return WebhookDelivery.objects.create(
        request=access_request,
        api_key=api_key,
        event=event,
        url=api_key.webhook_url,
        payload={"id": str(access_request.public_id)},
        **fields,
    )


def test_due_ids_are_the_due_ones_and_stale_claims_are_reclaimed(
    demo, hooked: IssuedKey, hooked_gateway: Gateway
):
    access_request = pending_request(hooked_gateway)
    key = hooked.api_key
    now = timezone.now()
    due = outbox_row(access_request, key, "due", next_attempt_at=now - timedelta(seconds=1))
    later = outbox_row(access_request, key, "later", next_attempt_at=now + timedelta(minutes=1))
    stale = outbox_row(
        access_request,
        key,
        "stale",
        status=Status.SENDING,
        attempts=1,
        next_attempt_at=now - timedelta(hours=1),
        claimed_at=now - STALE_CLAIM - timedelta(seconds=1),
    )
    busy = outbox_row(
        access_request,
        key,
        "busy",
        status=Status.SENDING,
        attempts=1,
        next_attempt_at=now - timedelta(hours=1),
        claimed_at=now - timedelta(seconds=30),
    )
    done = outbox_row(access_request, key, "done", status=Status.DELIVERED)
    failed = outbox_row(access_request, key, "failed", status=Status.FAILED)

    # Past the grace in which a new row is its after-commit task's to send.
    ids = webhook_due_ids(now=timezone.now() + FRESH_GRACE)

    assert sorted(ids) == sorted([due.pk, stale.pk])
    assert ids[0] == stale.pk, "the oldest deadline first"
    states = dict(WebhookDelivery.objects.values_list("pk", "status"))
    assert states[stale.pk] == Status.PENDING
    assert states[busy.pk] == Status.SENDING
    assert (states[later.pk], states[done.pk], states[failed.pk]) == (
        Status.PENDING,
        Status.DELIVERED,
        Status.FAILED,
    )


def test_a_reclaimed_stale_claim_is_sent_once_more(demo, hooked_gateway, receiver: Receiver):
    delivery = resolved_delivery(hooked_gateway)
    past = timezone.now() - STALE_CLAIM - timedelta(minutes=1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENDING, claimed_at=past, attempts=1
    )

    assert webhook_due_ids() == [delivery.pk]
    assert webhook_deliver(delivery_id=delivery.pk) == "delivered"

    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert len(receiver.hits) == 1


def test_due_ids_leave_a_fresh_delivery_to_its_after_commit_task(demo, hooked_gateway):
    delivery = resolved_delivery(hooked_gateway)

    assert webhook_due_ids(now=delivery.created_at) == []
    assert webhook_due_ids(now=delivery.created_at + FRESH_GRACE) == [delivery.pk]


def test_the_sweep_task_hands_due_deliveries_to_workers(
    demo, hooked_gateway: Gateway, receiver: Receiver, eager
):
    delivery = resolved_delivery(hooked_gateway)
    # Its after-commit task never ran (the broker lost it): the sweep sends it after the grace.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - FRESH_GRACE)

    assert sweep()["webhooks"] == 1

    delivery.refresh_from_db()
    assert delivery.status == Status.DELIVERED
    assert len(receiver.hits) == 1
    assert sweep()["webhooks"] == 0


# --- the signature -----------------------------------------------------------------------------


def test_a_captured_webhook_cannot_be_altered_or_replayed(
    demo, hooked_gateway: Gateway, receiver: Receiver
):
    delivery = resolved_delivery(hooked_gateway)
    webhook_deliver(delivery_id=delivery.pk)
    hit = receiver.hits[0]
    header = hit.headers[SIGNATURE_HEADER]
    signed_at = int(header.split(",")[0].removeprefix("t="))
    assert abs(signed_at - time.time()) < 60

    altered = hit.body.replace(b'"approved"', b'"denied"')
    assert altered != hit.body
    assert verify(receiver.secret, hit.body, header)
    assert not verify(receiver.secret, altered, header)
    assert not verify(receiver.secret, hit.body, header, now=signed_at + 301)
    assert not verify("whsec_someone-else", hit.body, header)


def test_the_signature_is_an_hmac_of_time_dot_body():
    import hmac

    body = b'{"id":"x"}'
    expected = hmac.new(b"whsec_s", b"1700000000." + body, hashlib.sha256).hexdigest()

    assert sign("whsec_s", body, 1700000000) == f"t=1700000000,v1={expected}"


def test_verify_accepts_a_fresh_signature_and_rejects_an_old_or_future_one():
    body = b'{"status":"approved"}'
    now = int(time.time())

    assert verify("s", body, sign("s", body, now))
    assert verify("s", body, sign("s", body, now - 299))
    assert not verify("s", body, sign("s", body, now - 301))
    assert not verify("s", body, sign("s", body, now + 301))
    assert not verify("s", body, sign("s", body, now - 3600))


@pytest.mark.parametrize(
    "header",
    ["", "garbage", "t=abc,v1=00", "v1=00", "t=1700000000", "t=,v1=", ",,,", "t=1=2,v1=3"],
)
def test_verify_rejects_malformed_headers(header: str):
    assert not verify("s", b"{}", header, now=1700000000)


# --- secrets at rest ---------------------------------------------------------------------------


def test_the_webhook_secret_is_stored_encrypted_and_the_key_only_hashed(demo, hooked: IssuedKey):
    row = ApiKey.objects.filter(pk=hooked.api_key.pk).values().get()
    stored = " ".join(str(value) for value in row.values())

    assert hooked.raw_key not in stored
    assert hooked.webhook_secret not in stored
    assert row["key_hash"] == hashlib.sha256(hooked.raw_key.encode()).hexdigest()
    assert row["webhook_secret_encrypted"]
    assert decrypt(row["webhook_secret_encrypted"]) == hooked.webhook_secret
