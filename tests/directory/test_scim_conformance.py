"""SCIM conformance: scim2-tester (python-scim) checks /scim/v2/ of a running server.

- A real server (pytest-django's live_server), a real SCIM token, a real HTTP client (httpx2).
- Every check must pass; what the server declares unsupported in ServiceProviderConfig (bulk,
  sort, etag, changePassword) the tester skips on its own, and it skips a search across every
  resource type at once when the server answers 501 to POST /.search (RFC 7644 §3.12): agenwork
  searches one type at a time, at /Users/.search and /Groups/.search.
"""

from __future__ import annotations

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult, Status, check_server

from directory.services import scim_token_create

FAILED = {Status.ERROR, Status.CRITICAL, Status.DEVIATION}
MAY_SKIP = {"search_with_attributes"}
# The checks that must have run and passed for each resource type: creation, reading, attribute
# selection, replacement, deletion and the three PATCH operations.
EXPECTED_PER_TYPE = {
    "object_creation",
    "object_query",
    "object_query_without_id",
    "object_query_with_attributes",
    "object_list_with_attributes",
    "object_replacement",
    "object_deletion",
    "check_add_attribute",
    "check_remove_attribute",
    "check_replace_attribute",
}


def _describe(result: CheckResult) -> str:
    where = f"{result.resource_type}: " if result.resource_type else ""
    return f"{where}{result.title} [{result.status.name}] {result.reason}"


@pytest.fixture
def scim_client(live_server, transactional_db):
    token = scim_token_create(name="conformance").raw_token
    http = httpx2.Client(
        base_url=f"{live_server.url}/scim/v2",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    with http:
        yield SyncSCIMClient(http)


def test_scim2_tester_finds_nothing_to_fault(scim_client):
    results = check_server(scim_client)
    failures = [_describe(r) for r in results if r.status in FAILED]
    assert not failures, "scim2-tester failures:\n" + "\n".join(failures)
    skipped = {r.title for r in results if r.status == Status.SKIPPED}
    assert skipped <= MAY_SKIP, f"skipped: {sorted(skipped - MAY_SKIP)}"
    passed = {(r.resource_type, r.title) for r in results if r.status == Status.SUCCESS}
    for resource_type in ("User", "Group"):
        missing = {t for t in EXPECTED_PER_TYPE if (resource_type, t) not in passed}
        assert not missing, f"{resource_type}: these checks did not pass: {sorted(missing)}"
