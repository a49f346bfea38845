"""Fixtures of the notification tests: the network-edge stand-ins and a person to notify.

`smtp_server` and `twilio_server` live in tests/support so other packages can import them too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from approval_flows.models import Notification
from approval_flows.notifications import notification_queue
from directory.models import Person
from tests.factories import PersonFactory
from tests.support.smtp import smtp_server  # noqa: F401 (a fixture)
from tests.support.twilio import twilio_server  # noqa: F401 (a fixture)


@pytest.fixture
def dana(db) -> Person:
    """An approver with an email address and a phone."""
    return PersonFactory(name="Dana Levi", email="dana@example.com", phone="+15550100")


@pytest.fixture
def queue(dana) -> Callable[..., Notification | None]:
    """notification_queue with sensible defaults: a new-request email to Dana."""

    def _queue(**overrides: Any) -> Notification | None:
        fields: dict[str, Any] = {
            "request_public_id": "9f1c1a52-5d3e-4c7b-9d8e-0a1b2c3d4e5f",
            "recipient": dana,
            "address": dana.email,
            "channel": Notification.Channel.EMAIL,
            "occasion": Notification.Occasion.NEW_REQUEST,
            "subject": "Ana Lopez asks to use Google Calendar",
            "body_text": "Ana Lopez asks to create calendar events. Review: http://x/a/t/",
            "body_html": "<p>Ana Lopez asks to create calendar events.</p>",
        }
        if overrides.get("channel") == Notification.Channel.SMS:
            fields.update(address=dana.phone, subject="", body_html="")
            fields["body_text"] = (
                "agenwork: Ana Lopez asks for Google Calendar. Reply A 4821 or D 4821"
            )
        fields.update(overrides)
        return notification_queue(**fields)

    return _queue


@pytest.fixture
def people(security_group) -> dict[str, Person]:
    """Mia and Eve in the Security group, Finn in none: the approvers of the flow form tests."""
    mia = PersonFactory(name="Mia Chen", email="mia@example.com")
    eve = PersonFactory(name="Eve Stone", email="eve@example.com")
    finn = PersonFactory(name="Finn Moss", email="finn@example.com")
    security_group.members.add(mia, eve)
    return {"mia": mia, "eve": eve, "finn": finn}
