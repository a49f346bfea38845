"""The Connectors page, one connector's page, and its actions (switches, access, credentials)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_filters.views import FilterView
from django_tables2 import SingleTableMixin

from agenwork.lists import AdminListMixin
from agenwork.roles import admin_required as roles_admin_required
from connectors import selectors, services
from connectors.filtersets import ConnectorFilterSet
from connectors.forms import CredentialsForm, SwitchForm, ToolAccessForm
from connectors.models import Connector, Tool
from connectors.tables import ConnectorTable

ONLY_ADMINS = "Only admins can see and change connectors."
DETAIL = "connectors/connector_detail.html"
OAUTH_CALLBACK = "oauth/callback/"

admin_required = roles_admin_required(ONLY_ADMINS)


class ConnectorListView(AdminListMixin, SingleTableMixin, FilterView):
    """Every connector; search, status filter, sort and page live in the URL."""

    table_class = ConnectorTable
    filterset_class = ConnectorFilterSet
    template_name = "connectors/connector_list.html"
    table_id = "connectors-table"
    only_admins = ONLY_ADMINS

    def get_queryset(self) -> QuerySet[Connector]:
        return selectors.connector_list()


def _connector(slug: str) -> Connector:
    connector = selectors.connector_for_page(slug)
    if connector is None:
        raise Http404("No such connector.")
    return connector


def _tool(connector: Connector, pk: int) -> Tool:
    tool = selectors.tool_of(connector, pk)
    if tool is None:
        raise Http404("No such tool in this connector.")
    return tool


def redirect_uri(connector: Connector) -> str:
    """The OAuth redirect URL to register in the provider's console for this connector."""
    return settings.SITE_URL + reverse("connectors:detail", args=[connector.slug]) + OAUTH_CALLBACK


def _render_detail(
    request: HttpRequest,
    connector: Connector,
    *,
    form: CredentialsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    form = form or CredentialsForm(
        initial=CredentialsForm.initial_for(connector), connector=connector
    )
    context = {
        "connector": connector,
        "tools": connector.tools.all(),
        "form": form,
        "access_choices": Tool.Access.choices,
        "redirect_uri": redirect_uri(connector),
    }
    return TemplateResponse(request, DETAIL, context, status=status)


@admin_required
@require_GET
def connector_detail_view(request: HttpRequest, slug: str) -> HttpResponse:
    """One connector: its switch, credentials, redirect URL, and tools."""
    return _render_detail(request, _connector(slug))


def _after_action(request: HttpRequest, connector: Connector, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("connectors:detail", connector.slug)


def _bad(request: HttpRequest, connector: Connector, message: str) -> HttpResponse:
    """A refused action: the page again with the reason, status 400, nothing stored."""
    messages.error(request, message)
    return _render_detail(request, connector, status=400)


@admin_required
@require_POST
def connector_enabled_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Enable or disable the whole connector."""
    connector = _connector(slug)
    form = SwitchForm(request.POST)
    if not form.is_valid():
        return _bad(request, connector, "Choose whether to enable or disable the connector.")
    enabled = form.value()
    services.connector_set_enabled(connector=connector, enabled=enabled, actor=request.user)
    word = "Enabled" if enabled else "Disabled"
    return _after_action(request, connector, f"{word} the {connector.name} connector.")


def _tool_response(request: HttpRequest, connector: Connector, tool: Tool, message: str):
    """The tool's row for htmx; the page again (after a redirect) otherwise."""
    if request.htmx:
        context = {"connector": connector, "tool": tool, "access_choices": Tool.Access.choices}
        return TemplateResponse(request, f"{DETAIL}#tool_row", context)
    return _after_action(request, connector, message)


@admin_required
@require_POST
def tool_enabled_view(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Enable or disable one tool."""
    connector = _connector(slug)
    tool = _tool(connector, pk)
    form = SwitchForm(request.POST)
    if not form.is_valid():
        return _bad(request, connector, "Choose whether to enable or disable the tool.")
    tool = services.tool_set_enabled(tool=tool, enabled=form.value(), actor=request.user)
    word = "Enabled" if tool.enabled else "Disabled"
    return _tool_response(request, connector, tool, f"{word} {tool.key}.")


@admin_required
@require_POST
def tool_access_view(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Set a tool's access kind by hand (the catalog keeps it from then on)."""
    connector = _connector(slug)
    tool = _tool(connector, pk)
    form = ToolAccessForm(request.POST)
    if not form.is_valid():
        return _bad(request, connector, "Choose read, write or delete as the tool's access.")
    access = form.cleaned_data["access"]
    tool = services.tool_set_access(tool=tool, access=access, actor=request.user)
    message = f"{tool.key} now counts as {tool.get_access_display().lower()} access."
    return _tool_response(request, connector, tool, message)


@admin_required
@require_POST
def connector_credentials_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Save the credential mode; a bring-your-own client needs an ID and a secret."""
    connector = _connector(slug)
    form = CredentialsForm(request.POST, connector=connector)
    if not form.is_valid():
        return _render_detail(request, connector, form=form, status=400)
    data = form.cleaned_data
    services.connector_set_credentials(
        connector=connector,
        mode=data["mode"],
        client_id=data.get("client_id", ""),
        client_secret=data.get("client_secret", ""),
        base_url=data.get("base_url", ""),
        actor=request.user,
    )
    return _after_action(request, connector, f"Saved the credentials of {connector.name}.")
