"""Which agents this authorization server registers: by DCR (RFC 7591) or by a client ID
metadata document (CIMD, MCP's authorization specification of 2025-11-25).

- The toolkit fetches, checks and stores CIMD clients (oauth2_provider.cimd: https only, no
  redirects, a timeout, a size limit, public addresses only, cached per Cache-Control). Here:
  the rules DCR and CIMD share, a loopback exception for tests and dev, and the reason a document
  was refused, which the toolkit keeps to its log, for the consent page.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.cache import cache
from oauth2_provider import cimd
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings

log = logging.getLogger(__name__)

CODE_FLOW_GRANTS = {"authorization_code", "refresh_token"}
LOOPBACK = {"localhost", "127.0.0.1", "::1"}
# The toolkit's reasons that describe our network rather than the document: never shown.
NETWORK_REASONS = ("could not fetch", "could not resolve", "client_id host")


def registration_refusal(metadata: dict) -> str:
    """What this server does not register (the toolkit checks the rest), or ""."""
    if metadata.get("token_endpoint_auth_method") != "none":
        return 'Register a public client: token_endpoint_auth_method "none", with PKCE.'
    grant_types = metadata.get("grant_types", ["authorization_code"])
    if isinstance(grant_types, list) and not set(grant_types) <= CODE_FLOW_GRANTS:
        return "grant_types may be authorization_code and refresh_token only."
    redirect_uris = metadata.get("redirect_uris")
    for uri in redirect_uris if isinstance(redirect_uris, list) else []:
        parts = urlsplit(uri) if isinstance(uri, str) else None
        if parts and parts.scheme == "http" and parts.hostname not in LOOPBACK:
            return f"{uri!r}: an http redirect address must be on this machine (localhost)."
    response_types = metadata.get("response_types", ["code"])
    if isinstance(response_types, list) and response_types != ["code"]:
        return 'response_types may be ["code"] only.'
    return ""


class GatewayMetadataFetcher(cimd.SafeMetadataFetcher):
    """The toolkit's fetcher, plus DCR's rules; a loopback host only with the setting on."""

    def fetch(self, client_id: str) -> tuple[dict[str, Any], int]:
        host = urlsplit(client_id).hostname
        if host in LOOPBACK and settings.OAUTH_CIMD_ALLOW_LOOPBACK:
            metadata, max_age = self._fetch_loopback(client_id)
        else:
            metadata, max_age = super().fetch(client_id)
        refusal = registration_refusal({"token_endpoint_auth_method": "none", **metadata})
        if refusal:
            raise cimd.CIMDError(refusal)
        return metadata, max_age

    def _fetch_loopback(self, client_id: str) -> tuple[dict[str, Any], int]:
        """The same limits as the toolkit's fetch (no redirect, timeout, size), to this machine."""
        cimd._validate_client_id_url(client_id)
        seconds = oauth2_settings.CIMD_FETCH_TIMEOUT_SECONDS
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=seconds, read=seconds, total=seconds),
            retries=False,
            ssl_context=ssl.create_default_context(),
        )
        try:
            response = http.request(
                "GET",
                client_id,
                headers={"Accept": "application/json"},
                redirect=False,
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise cimd.CIMDError(f"could not fetch client_id document: {exc}") from exc
        try:
            return self._read_document(response)
        finally:
            response.release_conn()
            http.clear()


def cimd_refusal(client_id: str) -> str:
    """Why an agent's metadata document at `client_id` cannot register it, or "".

    - Only a first sight is resolved here (the toolkit refreshes known clients itself, keeping
      the last good document when a refresh fails); nothing is stored when the document is bad.
    - A failed URL is not fetched again for a minute (the toolkit's backoff).
    """
    if not oauth2_settings.CIMD_ENABLED or not cimd.is_cimd_client_id(client_id):
        return ""
    if get_application_model().objects.filter(client_id=client_id).exists():
        return ""
    host = urlsplit(client_id).hostname or client_id
    backoff = cimd._backoff_cache_key(client_id)
    if cache.get(backoff):
        return f"The agent's metadata document at {host} was refused a moment ago; try later."
    with cimd._fetch_slot() as acquired:
        if not acquired:
            return "Too many agents are being registered right now; try again in a moment."
        try:
            cimd._fetch_validate_upsert(client_id)
        except cimd.CIMDError as exc:
            log.info("Client ID metadata document %r refused: %s", client_id, exc)
            cache.set(backoff, True, oauth2_settings.CIMD_FAILURE_BACKOFF_SECONDS)
            reason = str(exc)
            if reason.startswith(NETWORK_REASONS):
                reason = "agenwork could not fetch it"
            return f"The agent's metadata document at {host} was refused: {reason}."
    return ""
