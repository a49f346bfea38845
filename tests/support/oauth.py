"""An MCP agent that signs in by OAuth: the SDK's own OAuthClientProvider, in a thread of its own.

The test's browser plays the person: the provider hands it the authorization URL (`urls`), and
waits for the code the consent page sends to the redirect address (`codes`).
"""

from __future__ import annotations

import queue
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import anyio
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from tests.support.gateway import AGENT

WAIT_SECONDS = 60


class MemoryTokens:
    """The SDK's TokenStorage, in memory: what an agent would keep in its keychain."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class OAuthAgent:
    """An MCP client with the SDK's OAuth provider: discovery, registration, PKCE, refresh."""

    def __init__(self, mcp_url: str, redirect_uri: str, name: str = "Test agent") -> None:
        self.mcp_url = mcp_url
        self.storage = MemoryTokens()
        self.urls: queue.Queue[str] = queue.Queue()
        self.codes: queue.Queue[AuthorizationCodeResult] = queue.Queue()
        self.provider = OAuthClientProvider(
            server_url=mcp_url,
            client_metadata=OAuthClientMetadata(
                client_name=name,
                redirect_uris=[redirect_uri],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",
            ),
            storage=self.storage,
            redirect_handler=self._send_person_to,
            callback_handler=self._code_from_browser,
        )
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oauth-agent")

    async def _send_person_to(self, url: str) -> None:
        self.urls.put(url)

    async def _code_from_browser(self) -> AuthorizationCodeResult:
        return await anyio.to_thread.run_sync(lambda: self.codes.get(timeout=WAIT_SECONDS))

    async def session(self, work: Callable[[Client], Awaitable[Any]]) -> Any:
        """Run `work(client)` in one MCP session, signing in or refreshing as the SDK decides."""
        async with create_mcp_http_client(auth=self.provider) as http:
            transport = streamable_http_client(self.mcp_url, http_client=http)
            async with Client(transport, client_info=AGENT) as client:
                return await work(client)

    def start(self, scenario: Callable[[OAuthAgent], Awaitable[Any]]) -> Future:
        """Run `scenario(self)` on an event loop of its own; the test thread drives the browser."""
        return self._pool.submit(anyio.run, scenario, self)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
