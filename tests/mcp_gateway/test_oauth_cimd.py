"""Client ID metadata documents: an agent whose client_id is the https URL of its description.

A local HTTPS server plays the agent's web site (the network edge), with a certificate made here
and trusted through SSL_CERT_FILE; the toolkit fetches from it as from any site, the loopback
address allowed by OAUTH_CIMD_ALLOW_LOOPBACK.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.cache import cache
from oauth2_provider.models import get_application_model

from audit.models import AuditEntry
from tests.factories import PersonFactory, UserFactory
from tests.mcp_gateway.test_oauth_server import (
    GATEWAY,
    REDIRECT,
    authorize_url,
    consented_code,
    exchange,
    granted,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def gateway_url(settings):
    settings.MCP_GATEWAY_URL = GATEWAY


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "site.pem", directory / "site.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class AgentSite:
    """What each path answers: (status, content type, body); `held` paths wait for release."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, str, bytes]] = {}
        self.release = threading.Event()
        self.base = ""

    def serve(self, path: str, document: object, content_type: str = "application/json") -> str:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.answers[path] = (200, content_type, body)
        return self.base + path

    def document(self, path: str, **fields: object) -> str:
        url = self.base + path
        return self.serve(
            path,
            {
                "client_id": url,
                "client_name": "Site agent",
                "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                **fields,
            },
        )


@pytest.fixture
def site(tmp_path, monkeypatch, settings) -> Iterator[AgentSite]:
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    settings.OAUTH_CIMD_ALLOW_LOOPBACK = True
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_FETCH_TIMEOUT_SECONDS": 2}
    agent_site = AgentSite()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/held.json":
                agent_site.release.wait(10)
            status, content_type, body = agent_site.answers.get(
                self.path, (404, "text/plain", b"no")
            )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    agent_site.base = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield agent_site
    agent_site.release.set()
    server.shutdown()
    server.server_close()
    cache.clear()


@pytest.fixture
def ben(db):
    user = UserFactory(username="ben")
    return PersonFactory(name="Ben Kim", email="ben@example.com", user=user)


@pytest.fixture
def ben_client(client, ben):
    client.force_login(ben.user)
    return client


def test_an_agent_described_by_its_document_connects_end_to_end(ben_client, ben, site):
    client_id = site.document("/agent/client.json")

    page = ben_client.get(authorize_url(client_id))

    assert page.status_code == 200, page.content.decode()
    text = page.content.decode()
    assert "Site agent" in text and REDIRECT in text
    assert f'<code id="document-host">127.0.0.1:{client_id.split(":")[2].split("/")[0]}' in text
    app = get_application_model().objects.get(client_id=client_id)
    assert app.client_type == "public" and app.registration_source == "cimd"
    assert app.redirect_uris == REDIRECT

    tokens = exchange(ben_client, client_id, code=consented_code(ben_client, ben, client_id))
    assert tokens.status_code == 200, tokens.content
    assert tokens.json()["scope"] == "mcp"
    assert (
        AuditEntry.objects.get(object_type="agent_authorization", action="created").after["client"]
        == "Site agent"
    )


def test_the_metadata_advertises_documents_and_the_setting_turns_them_off(
    ben_client, site, settings
):
    client_id = site.document("/agent/off.json")
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "CIMD_ENABLED": False}

    response = ben_client.get(authorize_url(client_id))

    assert response.status_code == 400
    assert not get_application_model().objects.exists()


def _refused(ben_client, client_id: str, says: str, **params) -> None:
    response = ben_client.get(authorize_url(client_id, **params))
    page = response.content.decode()
    assert response.status_code == 400, page
    assert says in page
    assert not get_application_model().objects.filter(client_id=client_id).exists()
    assert granted() == (0, 0)
    assert not AuditEntry.objects.filter(object_type="agent_authorization").exists()  # a GET


def test_a_document_naming_another_client_id_is_refused(ben_client, site):
    url = site.base + "/agent/mismatch.json"
    site.serve(
        "/agent/mismatch.json",
        {
            "client_id": site.base + "/other.json",
            "client_name": "Liar",
            "redirect_uris": [REDIRECT],
        },
    )
    _refused(ben_client, url, "does not match")


def test_a_document_that_is_not_json_is_refused(ben_client, site):
    url = site.serve("/agent/page.json", b"<html>hello</html>", content_type="text/html")
    _refused(ben_client, url, "not JSON")


def test_a_document_too_big_is_refused(ben_client, site):
    url = site.document("/agent/big.json", padding="x" * 20_000)
    _refused(ben_client, url, "maximum allowed size")


def test_a_document_with_an_http_redirect_elsewhere_is_refused(ben_client, site):
    url = site.document("/agent/http.json", redirect_uris=["http://agent.example.com/cb"])
    _refused(ben_client, url, "on this machine")


def test_a_document_that_never_answers_is_refused_after_the_timeout(ben_client, site):
    url = site.base + "/held.json"
    try:
        _refused(ben_client, url, "could not fetch it")
    finally:
        site.release.set()


def test_a_document_missing_is_refused(ben_client, site):
    _refused(ben_client, site.base + "/agent/missing.json", "HTTP 404")


def test_a_redirect_address_the_document_does_not_list_gets_no_code(ben_client, site):
    client_id = site.document("/agent/listed.json")

    response = ben_client.get(
        authorize_url(client_id, redirect_uri="http://127.0.0.1:33418/elsewhere")
    )

    assert response.status_code == 400
    assert "code=" not in response.get("Location", "")
    assert granted() == (0, 0)


def test_an_http_client_id_is_no_document_and_nothing_is_fetched(ben_client, site):
    client_id = "http://agent.example.com/client.json"

    response = ben_client.get(authorize_url(client_id))

    assert response.status_code == 400
    assert not get_application_model().objects.exists()
    assert granted() == (0, 0)


def test_a_loopback_document_is_refused_unless_the_setting_allows_it(ben_client, site, settings):
    settings.OAUTH_CIMD_ALLOW_LOOPBACK = False
    url = site.document("/agent/loopback.json")
    _refused(ben_client, url, "could not fetch it")
