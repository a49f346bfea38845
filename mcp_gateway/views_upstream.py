"""A connector's upstream MCP server on its page: the URL and header form, the state, Sync tools.

- Admins only. The panel is loaded into the connector's page by htmx (`connectors` does not
  import this app: the commands ops configure are read here); opened directly, it is a page.
- A local command is shown, never set: no form here names a program to run (MCP_UPSTREAMS is
  ops' alone). The Authorization header is write-only: the page says only when it was set.
- Each action is a POST (CSRF-protected) that calls one service and goes back to the
  connector's page, whose tools table then shows what the sync did.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from agenwork.lists import partial_template
from agenwork.roles import admin_required
from connectors.forms import UpstreamForm
from connectors.models import Connector
from connectors.services import connector_set_upstream
from mcp_gateway import selectors
from mcp_gateway.services import connector_tools_sync, sync_summary

ONLY_ADMINS = "Only admins can see and change connectors."
TEMPLATE = "mcp_gateway/connector_upstream.html"
COMMAND_SET = (
    "Ops configured a local command for this connector (MCP_UPSTREAMS): it is the upstream, and "
    "it is changed only there. Nothing was saved."
)
NO_UPSTREAM = "This connector has no upstream MCP server to sync from: enter its URL first."

only_admins = admin_required(ONLY_ADMINS)


def _connector(slug: str) -> Connector:
    connector = selectors.connector_for_upstream(slug)
    if connector is None:
        raise Http404("No such connector.")
    return connector


def _panel(
    request: HttpRequest,
    state: selectors.UpstreamState,
    *,
    form: UpstreamForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The upstream panel for htmx; the page around it when opened directly."""
    connector = state.connector
    context: dict[str, Any] = {
        "connector": connector,
        "state": state,
        "form": form or UpstreamForm(initial=UpstreamForm.initial_for(connector)),
        "error": error or state.config_error,
    }
    template = partial_template(request, TEMPLATE, "upstream")
    return TemplateResponse(request, template, context, status=status)


def _back_to_connector(request: HttpRequest, connector: Connector) -> HttpResponse:
    """The connector's page again: a full load, so its status and tools table are current."""
    url = reverse("connectors:detail", args=[connector.slug])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@only_admins
@require_http_methods(["GET", "POST"])
def connector_upstream_view(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the upstream, its state and Sync tools. POST: save the URL and header."""
    state = selectors.upstream_state(_connector(slug))
    if request.method == "GET":
        return _panel(request, state)
    form = UpstreamForm(request.POST)
    if state.is_command:
        return _panel(request, state, form=form, error=COMMAND_SET, status=400)
    if not form.is_valid():
        return _panel(request, state, form=form, status=400)
    data = form.cleaned_data
    try:
        connector = connector_set_upstream(
            connector=state.connector,
            url=data["url"],
            auth_header=data["auth_header"],
            clear_auth_header=data["clear_auth_header"],
            actor=request.user,
        )
    except ValueError as exc:
        form.add_error(None, str(exc))
        return _panel(request, state, form=form, status=400)
    if connector.upstream_url:
        messages.success(
            request, f"Saved the upstream of {connector.name}: Sync tools to check it."
        )
    else:
        messages.success(request, f"{connector.name} has no upstream MCP server now.")
    return _back_to_connector(request, connector)


@only_admins
@require_POST
def connector_sync_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Sync tools: read the upstream's tools/list now, and say what changed or what failed."""
    state = selectors.upstream_state(_connector(slug))
    if state.upstream is None:
        return _panel(request, state, error=state.config_error or NO_UPSTREAM, status=400)
    connector = state.connector
    result = connector_tools_sync(connector=connector, upstream=state.upstream, actor=request.user)
    if result.error:
        messages.error(request, f"Could not sync the tools of {connector.name}: {result.error}")
    else:
        messages.success(request, f"Synced the tools of {connector.name}: {sync_summary(result)}.")
    return _back_to_connector(request, connector)
