"""URL map of the console."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from agenwork.login_throttle import ThrottledAdminAuthenticationForm
from agenwork.views import favicon
from directory.views import ConsoleLoginView
from requests_app.sms_replies import twilio_sms
from requests_app.views_links import approver_link

admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    # The programs' endpoints first: every gateway call is resolved, and Django tries the
    # patterns in order (each console page before them cost a failed match per call).
    path("api/v1/", include("api.urls")),
    path("scim/v2/", include("directory.scim.urls")),
    path("", include("dashboard.urls")),
    path("requests/", include("requests_app.urls")),
    path("policies/", include("policies.urls")),
    path("approval-flows/", include("approval_flows.urls")),
    path("connectors/", include("connectors.urls")),
    path("users/", include("dashboard.users.urls")),
    # The gateway's console pages: a person's tokens (users/<pk>/gateway-tokens/) and a
    # connector's upstream (connectors/<slug>/upstream/), loaded into those pages by htmx.
    path("", include("mcp_gateway.urls")),
    path("me/", include("dashboard.me.urls")),
    # The gateway's OAuth authorization server: /.well-known/oauth-authorization-server, /oauth/.
    path("", include("mcp_gateway.urls_oauth")),
    path("settings/api-keys/", include("gateways.urls")),
    path("webhooks/twilio/", include("approval_flows.urls_webhooks")),
    # Twilio is configured with this URL; the replies decide requests, so requests_app owns them.
    path("webhooks/twilio/sms", twilio_sms, name="twilio_sms"),
    path("a/<path:token>/", approver_link, name="approver_link"),
    path("accounts/login/", ConsoleLoginView.as_view(), name="login"),
    # The company's identity provider sends people back to accounts/oidc/callback/.
    path("accounts/oidc/", include("directory.urls_sso")),
    # The link the MCP gateway gives for a Step-up tool: the person signs in again there.
    path("step-up/", include("directory.urls_step_up")),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
]
