"""Fixtures of the directory tests: static files from source, a fresh snapshot, SCIM clients."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from directory.services import scim_token_create

SCIM_JSON = "application/scim+json"


class Scim:
    """An identity provider's SCIM client: a test client sending its bearer token."""

    def __init__(self, raw_token: str) -> None:
        self.client = Client()
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {raw_token}"}

    def _send(self, method: str, path: str, body: Any = None, raw: str | None = None):
        data = raw if raw is not None else ("" if body is None else json.dumps(body))
        send = getattr(self.client, method)
        return send(f"/scim/v2/{path}", data=data, content_type=SCIM_JSON, **self.auth)

    def get(self, path: str, **params: Any):
        return self.client.get(f"/scim/v2/{path}", params, **self.auth)

    def post(self, path: str, body: Any = None, *, raw: str | None = None):
        return self._send("post", path, body, raw)

    def put(self, path: str, body: Any = None, *, raw: str | None = None):
        return self._send("put", path, body, raw)

    def patch(self, path: str, body: Any = None, *, raw: str | None = None):
        return self._send("patch", path, body, raw)

    def delete(self, path: str):
        return self.client.delete(f"/scim/v2/{path}", **self.auth)


@pytest.fixture
def scim(db) -> Scim:
    return Scim(scim_token_create(name="okta").raw_token)


def commit_snapshot_changes() -> None:
    """Run the pending snapshot bump as a commit would (tests never commit their transaction)."""
    from django.db import connection

    from policies.snapshot import _PendingBump

    for _, callback, _ in list(connection.run_on_commit):
        if isinstance(callback, _PendingBump) and not callback.done:
            callback()
