"""The OAuth authorization server's endpoints, mounted at the root (the toolkit's URL names).

RFC 8414 puts the metadata at the origin's /.well-known/oauth-authorization-server; the rest
live under /oauth/. The namespace is the toolkit's: its metadata view reverses these names.
"""

from __future__ import annotations

from django.urls import path
from oauth2_provider import views

from mcp_gateway.oauth import (
    GatewayAuthorizationView,
    GatewayClientRegistrationView,
    GatewayMetadataView,
    GatewayRevokeTokenView,
    GatewayTokenView,
)

app_name = "oauth2_provider"
urlpatterns = [
    path(
        ".well-known/oauth-authorization-server",
        GatewayMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    path("oauth/authorize/", GatewayAuthorizationView.as_view(), name="authorize"),
    path("oauth/token/", GatewayTokenView.as_view(), name="token"),
    path("oauth/revoke/", GatewayRevokeTokenView.as_view(), name="revoke-token"),
    path("oauth/register", GatewayClientRegistrationView.as_view(), name="dcr-register"),
    path(
        "oauth/register/<str:client_id>/",
        views.DynamicClientRegistrationManagementView.as_view(),
        name="dcr-register-management",
    ),
]
