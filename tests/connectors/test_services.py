"""Connector services: switches change the next decision at once; access; write-only secrets."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from agenwork.crypto import decrypt
from audit.models import AuditEntry
from connectors import services
from connectors.models import Connector, Tool
from gateways.services import api_key_create
from policies.evaluation import Call, evaluate
from policies.snapshot import current_snapshot

ANA = "ana@example.com"
LIST = "google-calendar_events_list"
SECRET = "s3cr3t-Very-Private-value-42"


def decide(user: str, connector: str, tools: list[str]):
    """The engine's decision over the current snapshot, as the API would get it."""
    return evaluate(current_snapshot(), Call(user, connector, tuple(tools)), now=timezone.now())


def committed(capture, write):
    """Run a write and its after-commit callbacks, as a committed web request would."""
    with capture(execute=True):
        return write()


@pytest.fixture
def calendar(db, django_capture_on_commit_callbacks) -> Connector:
    """The demo, committed as far as the snapshot can tell: decisions come from its cache."""
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", requests=0, stdout=StringIO(), stderr=StringIO())
    assert current_snapshot() is current_snapshot()
    return Connector.objects.get(slug="google-calendar")


def test_disabling_a_tool_denies_it_at_once_and_enabling_allows_it_again(
    calendar, admin_user, django_capture_on_commit_callbacks
):
    assert decide(ANA, "google-calendar", [LIST]).decision == "allow"  # cached from here on
    tool = calendar.tools.get(key=LIST)

    committed(
        django_capture_on_commit_callbacks,
        lambda: services.tool_set_enabled(tool=tool, enabled=False, actor=admin_user),
    )
    denied = decide(ANA, "google-calendar", [LIST])
    assert (denied.decision, denied.reason_code) == ("deny", "tool_disabled")

    committed(
        django_capture_on_commit_callbacks,
        lambda: services.tool_set_enabled(tool=tool, enabled=True, actor=admin_user),
    )
    assert decide(ANA, "google-calendar", [LIST]).decision == "allow"


def test_disabling_a_connector_denies_every_tool_with_its_own_reason(
    calendar, admin_user, django_capture_on_commit_callbacks
):
    assert decide(ANA, "google-calendar", [LIST]).decision == "allow"
    committed(
        django_capture_on_commit_callbacks,
        lambda: services.connector_set_enabled(connector=calendar, enabled=False, actor=admin_user),
    )
    denied = decide(ANA, "google-calendar", [LIST, "google-calendar_events_get"])
    assert (denied.decision, denied.reason_code) == ("deny", "connector_disabled")
    assert {tool.reason_code for tool in denied.tools} == {"connector_disabled"}

    committed(
        django_capture_on_commit_callbacks,
        lambda: services.connector_set_enabled(connector=calendar, enabled=True, actor=admin_user),
    )
    assert decide(ANA, "google-calendar", [LIST]).decision == "allow"


def test_the_decisions_endpoint_sees_a_disabled_tool_on_the_next_call(calendar, admin_user):
    key = api_key_create(name="gateway").raw_key
    client = Client()

    def call() -> dict:
        body = {"user": ANA, "connector": "google-calendar", "tools": [LIST]}
        response = client.post(
            "/api/v1/decisions",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        assert response.status_code == 200
        return response.json()

    assert call()["decision"] == "allow"
    services.tool_set_enabled(tool=calendar.tools.get(key=LIST), enabled=False, actor=admin_user)
    answer = call()
    assert (answer["decision"], answer["reason_code"]) == ("deny", "tool_disabled")


def test_switches_are_audited_with_before_and_after_and_a_no_change_is_not(calendar, admin_user):
    tool = calendar.tools.get(key=LIST)
    services.tool_set_enabled(tool=tool, enabled=False, actor=admin_user)
    services.tool_set_enabled(tool=tool, enabled=False, actor=admin_user)
    services.connector_set_enabled(connector=calendar, enabled=False, actor=admin_user)

    entries = list(AuditEntry.objects.order_by("id"))
    assert [(e.object_type, e.before, e.after) for e in entries] == [
        ("tool", {"enabled": True}, {"enabled": False}),
        ("connector", {"enabled": True}, {"enabled": False}),
    ]
    assert entries[0].object_repr == f"Google Calendar: {LIST}"
    assert entries[0].actor == admin_user


def test_setting_access_by_hand_marks_it_overridden_and_audits_it(calendar, admin_user):
    tool = calendar.tools.get(key=LIST)
    services.tool_set_access(tool=tool, access=Tool.Access.WRITE, actor=admin_user)
    tool.refresh_from_db()
    assert (tool.access, tool.access_overridden) == ("write", True)
    entry = AuditEntry.objects.get()
    assert entry.before == {"access": "read", "access_overridden": False}
    assert entry.after == {"access": "write", "access_overridden": True}


def test_an_unknown_access_kind_is_refused_and_stores_nothing(calendar, admin_user):
    tool = calendar.tools.get(key=LIST)
    with pytest.raises(ValueError, match="Unknown access"):
        services.tool_set_access(tool=tool, access="admin", actor=admin_user)
    tool.refresh_from_db()
    assert (tool.access, tool.access_overridden) == ("read", False)
    assert not AuditEntry.objects.exists()


def test_a_client_secret_is_stored_encrypted_and_never_audited(calendar, admin_user):
    services.connector_set_credentials(
        connector=calendar,
        mode="byo",
        client_id="client-123",
        client_secret=SECRET,
        base_url="https://calendar.example.com",
        actor=admin_user,
    )
    calendar.refresh_from_db()
    assert SECRET not in calendar.client_secret_encrypted
    assert decrypt(calendar.client_secret_encrypted) == SECRET
    assert calendar.client_secret_set_at is not None
    entry = AuditEntry.objects.get()
    assert SECRET not in json.dumps([entry.before, entry.after, entry.object_repr])
    assert entry.after["client_secret"] == "secret replaced"
    assert entry.after["client_id"] == "client-123"


def test_a_blank_secret_keeps_the_stored_one(calendar, admin_user):
    services.connector_set_credentials(
        connector=calendar, mode="byo", client_id="a", client_secret=SECRET, actor=admin_user
    )
    calendar.refresh_from_db()
    stored, set_at = calendar.client_secret_encrypted, calendar.client_secret_set_at
    services.connector_set_credentials(
        connector=calendar, mode="byo", client_id="b", client_secret="", actor=admin_user
    )
    calendar.refresh_from_db()
    assert (calendar.client_id, calendar.client_secret_encrypted) == ("b", stored)
    assert calendar.client_secret_set_at == set_at
    assert AuditEntry.objects.order_by("-id").first().after["client_secret"] == "set"


def test_managed_mode_forgets_the_company_client(calendar, admin_user):
    services.connector_set_credentials(
        connector=calendar, mode="byo", client_id="a", client_secret=SECRET, actor=admin_user
    )
    services.connector_set_credentials(connector=calendar, mode="managed", actor=admin_user)
    calendar.refresh_from_db()
    assert calendar.credential_mode == "managed"
    assert (calendar.client_id, calendar.client_secret_encrypted, calendar.base_url) == ("", "", "")
    assert calendar.client_secret_set_at is None
    assert AuditEntry.objects.order_by("-id").first().after["client_secret"] == "secret removed"


@pytest.mark.parametrize(
    "fields",
    [
        {"mode": "byo", "client_id": "a"},
        {"mode": "byo", "client_id": "  ", "client_secret": SECRET},
        {"mode": "byo", "client_id": "a", "client_secret": SECRET, "base_url": "javascript:x"},
        {"mode": "custom"},
    ],
)
def test_incomplete_or_bad_credentials_are_refused_and_store_nothing(calendar, admin_user, fields):
    before = Connector.objects.values().get(pk=calendar.pk)
    with pytest.raises(ValueError):
        services.connector_set_credentials(connector=calendar, actor=admin_user, **fields)
    assert Connector.objects.values().get(pk=calendar.pk) == before
    assert not AuditEntry.objects.exists()
