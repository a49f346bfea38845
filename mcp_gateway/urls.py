"""The console's gateway pages, mounted at the root: a person's tokens, a connector's upstream."""

from __future__ import annotations

from django.urls import path

from mcp_gateway import views_tokens, views_upstream

app_name = "mcp_gateway"
urlpatterns = [
    path(
        "users/<int:pk>/gateway-tokens/",
        views_tokens.gateway_token_list_view,
        name="gateway_tokens",
    ),
    path(
        "users/<int:pk>/gateway-tokens/new/",
        views_tokens.gateway_token_create_view,
        name="gateway_token_create",
    ),
    path(
        "users/<int:pk>/gateway-tokens/<int:token_pk>/revoke/",
        views_tokens.gateway_token_revoke_view,
        name="gateway_token_revoke",
    ),
    path(
        "connectors/<slug:slug>/upstream/",
        views_upstream.connector_upstream_view,
        name="connector_upstream",
    ),
    path(
        "connectors/<slug:slug>/upstream/sync/",
        views_upstream.connector_sync_view,
        name="connector_sync",
    ),
]
