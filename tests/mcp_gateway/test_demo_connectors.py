"""The demo's `time` and `repo` connectors through the gateway, in front of the real servers.

- The demo scenario of `seed_demo` (the `demo` fixture), and the upstreams `make run`'s first
  step configures (agenwork/embedded.py), here in the test's own folder: mcp-server-time, and
  mcp-server-git over a fresh demo repository.
- The gateway runs as its own process; Ben's and Ana's agents are the SDK's MCP client.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from agenwork.embedded import DEMO_REPO_NAME, write_demo_upstreams
from approval_flows.models import Notification
from connectors.models import Connector, Tool
from mcp_gateway.tokens import gateway_token_create
from policies.models import DecisionLog
from requests_app.models import AccessRequest
from tests.support.gateway import as_person, call, listed_tools, start_gateway, text_of

pytestmark = pytest.mark.django_db(transaction=True)

TIME_TOOLS = ["time_convert_time", "time_get_current_time"]
REPO_READS = [
    f"repo_git_{name}"
    for name in ("branch", "diff", "diff_staged", "diff_unstaged", "log", "show", "status")
]
REPO_CHANGES = ["repo_git_add", "repo_git_commit", "repo_git_create_branch"]


@pytest.fixture
def upstreams(tmp_path: Path, settings) -> dict[str, Any]:
    """What `make run` writes in its var folder, here the test's: the servers and the repository."""
    configured = write_demo_upstreams(tmp_path, sys.executable)
    settings.MCP_UPSTREAMS = json.dumps(configured)
    return configured


@pytest.fixture
def repository(tmp_path: Path, upstreams) -> Path:
    return tmp_path / DEMO_REPO_NAME


@pytest.fixture
def gateway(demo, upstreams, tmp_path: Path) -> Iterator[str]:
    # A held call gives up after a second: these tests never approve.
    running = start_gateway(upstreams, tmp_path / "gateway.log", MCP_HOLD_SECONDS="1")
    yield running.base
    running.stop()


def token_of(people: dict, email: str) -> str:
    return gateway_token_create(person=people[email]).raw_token


def git(repository: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repository, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_sync_finds_exactly_the_seeded_tools_and_fills_them_from_the_servers(demo, upstreams):
    access_before = dict(Tool.objects.values_list("key", "access"))
    out = StringIO()

    call_command("sync_connector_tools", "time", "repo", stdout=out)

    # Nothing added, nothing missing: the seed names every tool the real servers list.
    assert out.getvalue().splitlines() == [
        "repo: 0 added, 12 updated, 0 newly missing.",
        "time: 0 added, 2 updated, 0 newly missing.",
    ]
    assert dict(Tool.objects.values_list("key", "access")) == access_before
    status = Tool.objects.get(key="repo_git_status")
    assert "repo_path" in status.input_schema["properties"]
    assert "timezone" in Tool.objects.get(key="time_get_current_time").input_schema["properties"]
    assert set(
        Connector.objects.filter(slug__in=["time", "repo"]).values_list("status", flat=True)
    ) == {Connector.Status.CONNECTED}


def test_each_person_lists_the_demo_tools_their_policies_leave_them(gateway, demo):
    ben = as_person(gateway, token_of(demo, "ben@example.com"), listed_tools)
    ana = as_person(gateway, token_of(demo, "ana@example.com"), listed_tools)

    assert sorted(ben) == sorted(TIME_TOOLS + REPO_READS + REPO_CHANGES)
    for name in REPO_CHANGES:
        assert ben[name].description.startswith("[agenwork:"), name
        assert "approval" in ben[name].description
    for name in TIME_TOOLS + REPO_READS:
        assert not ben[name].description.startswith("[agenwork:"), name
    assert (
        sorted(ana) == TIME_TOOLS
    )  # Sales: the time only, and no git reset or checkout for anyone


def test_the_time_and_git_status_answer_from_the_real_servers(gateway, demo, repository):
    token = token_of(demo, "ben@example.com")

    now = as_person(gateway, token, call("time_get_current_time", {"timezone": "UTC"}))
    status = as_person(gateway, token, call("repo_git_status", {"repo_path": str(repository)}))
    log = as_person(gateway, token, call("repo_git_log", {"repo_path": str(repository)}))

    assert not now.is_error and json.loads(text_of(now))["timezone"] == "UTC"
    assert not status.is_error and "On branch main" in text_of(status)
    assert "Point the README at the checklist" in text_of(log)


def test_git_reset_is_denied_with_the_policy_and_never_reaches_the_repository(
    gateway, demo, repository
):
    (repository / "NOTES.md").write_text("staged by hand\n")
    git(repository, "add", "NOTES.md")

    result = as_person(
        gateway,
        token_of(demo, "ben@example.com"),
        call("repo_git_reset", {"repo_path": str(repository)}),
    )

    text = text_of(result)
    assert result.is_error and "policy_deny" in text
    assert "No agent resets or checks out the demo repository" in text
    assert git(repository, "status", "--porcelain") == "A  NOTES.md\n"  # still staged
    [logged] = DecisionLog.objects.filter(user_ref="ben@example.com")
    assert (logged.decision, logged.tools) == ("deny", ["repo_git_reset"])


def test_a_commit_asks_security_through_engineering_approvals_and_is_not_run(
    gateway, demo, repository
):
    (repository / "NOTES.md").write_text("an agent's note\n")
    git(repository, "add", "NOTES.md")
    head = git(repository, "rev-parse", "HEAD")
    arguments = {"repo_path": str(repository), "message": "Add notes"}

    result = as_person(
        gateway, token_of(demo, "ben@example.com"), call("repo_git_commit", arguments)
    )

    request = AccessRequest.objects.get(requester__email="ben@example.com")
    assert result.is_error and str(request.public_id) in text_of(result)
    assert (request.flow.name, request.arguments) == ("Engineering approvals", arguments)
    assert [t.tool.key for t in request.tools.all()] == ["repo_git_commit"]
    assert Notification.objects.filter(
        request_public_id=request.public_id, address="dana@example.com"
    ).exists()
    assert git(repository, "rev-parse", "HEAD") == head
