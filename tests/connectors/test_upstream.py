"""connector_set_upstream: an http(s) URL, a write-only header, nothing stored on bad input."""

from __future__ import annotations

import pytest

from agenwork.crypto import decrypt
from audit.models import AuditEntry
from connectors.models import Connector
from connectors.services import connector_set_upstream
from tests.factories import ConnectorFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "header"),
    [
        ("ftp://mcp.example.com/mcp", ""),
        ("mcp.example.com/mcp", ""),
        ("https://" + "a" * 600 + ".example.com", ""),
        ("https://mcp.example.com/mcp", "Bearer x\nX-Other: y"),
        ("https://mcp.example.com/mcp", "  "),
    ],
)
def test_the_service_refuses_what_is_not_an_http_url_or_one_header_line(url, header):
    connector = ConnectorFactory(status=Connector.Status.CONNECTED)
    with pytest.raises(ValueError):
        connector_set_upstream(connector=connector, url=url, auth_header=header, actor=None)
    connector.refresh_from_db()
    assert (connector.upstream_url, connector.upstream_auth_header_encrypted) == ("", "")
    assert connector.status == Connector.Status.CONNECTED
    assert not AuditEntry.objects.exists()


def test_a_new_upstream_is_stored_and_waits_for_its_first_check(admin_user):
    connector = ConnectorFactory(
        status=Connector.Status.ERROR, upstream_error="old", upstream_checked_at="2026-01-01T00:00Z"
    )
    connector_set_upstream(
        connector=connector,
        url=" https://mcp.example.com/mcp ",
        auth_header="Bearer s3cret",
        actor=admin_user,
    )
    connector.refresh_from_db()
    assert connector.upstream_url == "https://mcp.example.com/mcp"
    assert decrypt(connector.upstream_auth_header_encrypted) == "Bearer s3cret"
    assert connector.status == Connector.Status.DISCONNECTED
    assert (connector.upstream_error, connector.upstream_checked_at) == ("", None)
    assert "s3cret" not in str(AuditEntry.objects.get().after)
