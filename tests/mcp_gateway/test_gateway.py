"""The gateway as its own process: the SDK's MCP client over Streamable HTTP, in front of the real
mcp-server-time as a stdio upstream."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from connectors.models import Tool
from directory.models import Person
from mcp_gateway.models import GatewayToken
from mcp_gateway.schemas import ToolSchemas
from mcp_gateway.tokens import gateway_token_create, gateway_token_revoke
from mcp_gateway.upstreams import run_blocking
from policies.models import DecisionLog
from tests.factories import (
    ApprovalFlowFactory,
    ApprovalLevelFactory,
    ConnectorFactory,
    GroupFactory,
    PersonFactory,
    PolicyFactory,
)
from tests.support.gateway import (
    TIME_UPSTREAM,
    as_person,
    call,
    fresh_snapshot_version,
    start_gateway,
    text_of,
    token_of,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scenario(settings):
    """Ben (Engineering) may use both time tools, Ana (Sales) only the time; Lee is locked."""
    fresh_snapshot_version()
    settings.MCP_UPSTREAMS = json.dumps(TIME_UPSTREAM)
    sales, engineering, security = (
        GroupFactory(name=n) for n in ("Sales", "Engineering", "Security")
    )
    ben = PersonFactory(email="ben@example.com", name="Ben Kim")
    ben.groups.add(engineering)
    ana = PersonFactory(email="ana@example.com", name="Ana Lopez")
    ana.groups.add(sales)
    lee = PersonFactory(email="lee@example.com", status=Person.Status.LOCKED)
    lee.groups.add(sales)
    time_connector = ConnectorFactory(slug="time", name="Time")
    call_command("sync_connector_tools", "time", stdout=StringIO())
    tools = {t.key: t for t in time_connector.tools.all()}
    allow = PolicyFactory(name="Time for everyone", connector=time_connector)
    allow.tools.set([tools["time_get_current_time"]])
    deny = PolicyFactory(
        name="No conversions for Sales", connector=time_connector, all_users=False, action="deny"
    )
    deny.tools.set([tools["time_convert_time"]])
    deny.groups.set([sales])
    engineering_all = PolicyFactory(
        name="Engineering converts", connector=time_connector, all_users=False
    )
    engineering_all.groups.set([engineering])
    flow = ApprovalFlowFactory(name="Security approvals")
    ApprovalLevelFactory(flow=flow, position=1).groups.add(security)
    return {"ben": ben, "ana": ana, "lee": lee, "flow": flow, "connector": time_connector}


@pytest.fixture(scope="module")
def gateway(django_db_setup, tmp_path_factory) -> Iterator[str]:
    """`manage.py run_mcp_gateway` on a free port, for the whole module; yields its base URL."""
    running = start_gateway(TIME_UPSTREAM, tmp_path_factory.mktemp("gateway") / "gateway.log")
    yield running.base
    running.stop()


async def _names(client) -> list[str]:
    return sorted(t.name for t in (await client.list_tools()).tools)


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # the current revision and the previous one
def test_each_person_lists_only_the_tools_the_engine_would_not_deny(gateway, scenario, mode):
    assert as_person(gateway, token_of(scenario["ben"]), _names, mode) == [
        "time_convert_time",
        "time_get_current_time",
    ]
    assert as_person(gateway, token_of(scenario["ana"]), _names, mode) == ["time_get_current_time"]
    assert as_person(gateway, token_of(scenario["lee"]), _names, mode) == []


def test_an_allowed_call_is_forwarded_and_the_result_comes_back_unchanged(gateway, scenario):
    result = as_person(
        gateway, token_of(scenario["ben"]), call("time_get_current_time", {"timezone": "UTC"})
    )
    assert not result.is_error
    answer = json.loads(text_of(result))
    assert answer["timezone"] == "UTC" and answer["datetime"].startswith(str(timezone.now().year))
    log = DecisionLog.objects.get()
    assert log.decision == "allow" and log.agent == "test-agent 1.2.3"


def test_a_denied_call_is_a_tool_error_for_the_agent_and_not_forwarded(gateway, scenario):
    arguments = {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
    result = as_person(gateway, token_of(scenario["ana"]), call("time_convert_time", arguments))
    assert result.is_error
    text = text_of(result)
    assert "policy_deny" in text and "No conversions for Sales" in text
    assert "Do not retry; ask an admin" in text and "21:00" not in text
    assert DecisionLog.objects.get().decision == "deny"


def test_a_locked_person_is_denied_with_the_reason(gateway, scenario):
    result = as_person(
        gateway, token_of(scenario["lee"]), call("time_get_current_time", {"timezone": "UTC"})
    )
    assert result.is_error and "user_locked" in text_of(result)


def test_an_unknown_tool_is_a_tool_error_and_nothing_is_stored(gateway, scenario):
    result = as_person(gateway, token_of(scenario["ben"]), call("time_nope", {}))
    assert result.is_error and "Unknown tool" in text_of(result)
    assert not DecisionLog.objects.exists()


def test_a_tool_marked_missing_upstream_is_unknown_to_the_very_next_call(gateway, scenario):
    ben, now_in_utc = token_of(scenario["ben"]), call("time_get_current_time", {"timezone": "UTC"})
    assert not as_person(gateway, ben, now_in_utc).is_error
    tool = Tool.objects.get(key="time_get_current_time")
    tool.missing_since = timezone.now()
    tool.save()  # as sync_connector_tools marks it: the snapshot version moves
    result = as_person(gateway, ben, now_in_utc)
    assert result.is_error and "Unknown tool" in text_of(result)


def test_the_sdk_gets_each_tools_input_schema_from_memory(scenario):
    schemas = ToolSchemas()
    run_blocking(schemas.refresh)
    stored = Tool.objects.get(key="time_convert_time").input_schema
    assert stored["properties"] and schemas.lookup("time_convert_time") == stored
    assert schemas.lookup("time_nope") is None


def _status_of(base: str, token: str | None) -> tuple[int, str]:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    request = urllib.request.Request(f"{base}/mcp", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json, text/event-stream")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("WWW-Authenticate", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("WWW-Authenticate", "")


def test_missing_bad_revoked_and_expired_tokens_get_401_with_www_authenticate(gateway, scenario):
    ben = scenario["ben"]
    revoked = gateway_token_create(person=ben)
    gateway_token_revoke(token=revoked.token)
    expired = gateway_token_create(person=ben, expires_in_days=1)
    GatewayToken.objects.filter(pk=expired.token.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    good = token_of(ben)
    for token in (None, "nonsense", good[:-2] + "xx", revoked.raw_token, expired.raw_token):
        status, challenge = _status_of(gateway, token)
        assert status == 401 and challenge.startswith("Bearer"), token
    assert _status_of(gateway, good)[0] != 401


def test_healthz_names_the_upstreams_and_their_state(gateway, scenario):
    with urllib.request.urlopen(f"{gateway}/healthz", timeout=5) as response:
        health = json.loads(response.read())
    assert health["status"] == "ok" and health["upstreams"]["time"]["status"] == "connected"


def _post(base: str, token: str, body: bytes) -> int:
    request = urllib.request.Request(f"{base}/mcp", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json, text/event-stream")
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'{"jsonrpc": "2.0"}', b'{"jsonrpc": "2.0", "id": 1, "method": 7}'],
)
def test_malformed_json_rpc_is_refused_without_a_server_error(gateway, scenario, body):
    status = _post(gateway, token_of(scenario["ben"]), body)
    assert 400 <= status < 500 and not DecisionLog.objects.exists()


def test_an_oversized_call_is_refused_and_nothing_is_stored(gateway, scenario):
    """The SDK refuses a body over its limit (4 MB) from the announced length, before reading it."""
    host, port = gateway.removeprefix("http://").split(":")
    client = http.client.HTTPConnection(host, int(port), timeout=10)
    client.putrequest("POST", "/mcp")
    for name, value in {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "Authorization": f"Bearer {token_of(scenario['ben'])}",
        "Content-Length": str(5_000_000),
    }.items():
        client.putheader(name, value)
    client.endheaders(b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": ')
    status = client.getresponse().status
    client.close()
    assert status == 413 and not DecisionLog.objects.exists()
