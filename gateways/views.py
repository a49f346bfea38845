"""Settings → API keys: the keys of the gateways, their webhooks and webhook delivery attempts.

- Admins only. A raw key or signing secret exists only in the response to the POST that made it:
  never stored, never shown again, and that response is marked `Cache-Control: no-store`.
- Every change is a POST (CSRF-protected) that calls one service; the services write the audit.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.generic import ListView
from django_tables2 import SingleTableMixin

from agenwork.crypto import hash_token
from agenwork.lists import paginate_table
from agenwork.pagination import DeferredJoinPaginator
from agenwork.roles import admin_required as roles_admin_required
from agenwork.roles import is_admin
from gateways.forms import ApiKeyCreateForm, WebhookForm
from gateways.models import ApiKey
from gateways.services import api_key_create, api_key_revoke, api_key_set_webhook
from gateways.tables import ApiKeyTable, WebhookDeliveryTable

ADMINS_ONLY = "Only admins can open this page."
KEYS_PER_PAGE = 50
DELIVERIES_PER_PAGE = 25
DELIVERY_FIELDS = (
    "api_key_id",
    "request",
    "request__public_id",
    "status",
    "attempts",
    "next_attempt_at",
    "last_status_code",
    "last_error",
    "delivered_at",
    "created_at",
)


admin_required = roles_admin_required(ADMINS_ONLY)


class AdminRequiredMixin(LoginRequiredMixin):
    """The class-based form of `admin_required`."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not is_admin(request.user):
            raise PermissionDenied(ADMINS_ONLY)
        return super().dispatch(request, *args, **kwargs)


def webhook_version(api_key: ApiKey) -> str:
    """A fingerprint of the key's webhook, so a form posted twice never rotates the secret twice."""
    return hash_token(f"{api_key.webhook_url}\n{api_key.webhook_secret_encrypted}")[:16]


class ApiKeyListView(AdminRequiredMixin, SingleTableMixin, ListView):
    """Every API key, active and revoked, by name."""

    table_class = ApiKeyTable
    template_name = "gateways/apikey_list.html"
    queryset = ApiKey.objects.order_by("name", "id")

    def get_table(self, **kwargs: Any) -> ApiKeyTable:
        table = self.table_class(data=self.get_table_data(), **kwargs)
        self.notices = paginate_table(
            table, self.request, sizes=(KEYS_PER_PAGE,), paginator_class=DeferredJoinPaginator
        )
        return table

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["notices"] = self.notices
        return context


def _render_detail(
    request: HttpRequest,
    api_key: ApiKey,
    *,
    form: WebhookForm | None = None,
    secret: str | None = None,
    status: int = 200,
) -> HttpResponse:
    deliveries = api_key.deliveries.select_related("request").only(*DELIVERY_FIELDS)
    table = WebhookDeliveryTable(deliveries.order_by("-created_at", "-id"))
    notices = paginate_table(
        table, request, sizes=(DELIVERIES_PER_PAGE,), paginator_class=DeferredJoinPaginator
    )
    context = {
        "key": api_key,
        "form": form or WebhookForm(initial={"webhook_url": api_key.webhook_url}),
        "version": webhook_version(api_key),
        "secret": secret,
        "table": table,
        "notices": notices,
    }
    return render(request, "gateways/apikey_detail.html", context, status=status)


@admin_required
@require_GET
def api_key_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A key's facts, its webhook, the Revoke button and its webhook delivery attempts."""
    return _render_detail(request, get_object_or_404(ApiKey, pk=pk))


@admin_required
@never_cache
@require_http_methods(["GET", "POST"])
def api_key_new(request: HttpRequest) -> HttpResponse:
    """The Create key form; its POST answers with the raw key and secret, shown this once."""
    form = ApiKeyCreateForm(request.POST) if request.method == "POST" else ApiKeyCreateForm()
    if form.is_bound and form.is_valid():
        try:
            issued = api_key_create(
                name=form.cleaned_data["name"],
                webhook_url=form.cleaned_data["webhook_url"],
                actor=request.user,
            )
        except ValidationError as exc:
            form.add_service_error(exc)
        except IntegrityError:
            form.add_error("name", "A key with this name was created a moment ago. Pick another.")
        else:
            return render(request, "gateways/apikey_issued.html", {"issued": issued})
    status = 400 if form.is_bound else 200
    return render(request, "gateways/apikey_form.html", {"form": form}, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def api_key_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm; only the POST revokes, at once and for good."""
    api_key = get_object_or_404(ApiKey, pk=pk)
    if request.method == "GET":
        return render(request, "gateways/apikey_revoke.html", {"key": api_key})
    if api_key_revoke(api_key=api_key, actor=request.user):
        messages.success(request, f"Revoked “{api_key.name}”: calls with it are now refused.")
    else:
        messages.info(request, f"“{api_key.name}” was revoked already.")
    return redirect("gateways:detail", pk=api_key.pk)


@admin_required
@never_cache
@require_POST
def api_key_webhook(request: HttpRequest, pk: int) -> HttpResponse:
    """Set (with a new signing secret, shown once) or clear the key's webhook URL."""
    api_key = get_object_or_404(ApiKey, pk=pk)
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, api_key, form=form, status=400)
    conflict = _webhook_conflict(api_key, request.POST.get("version", ""))
    if conflict:
        form.add_error(None, conflict)
        return _render_detail(request, api_key, form=form, status=409)
    try:
        secret = api_key_set_webhook(
            api_key=api_key, webhook_url=form.cleaned_data["webhook_url"], actor=request.user
        )
    except ValidationError as exc:
        form.add_service_error(exc)
        return _render_detail(request, api_key, form=form, status=400)
    if secret is None:
        messages.success(request, f"Webhooks are off for “{api_key.name}”.")
        return redirect("gateways:detail", pk=api_key.pk)
    return _render_detail(request, api_key, secret=secret)


def _webhook_conflict(api_key: ApiKey, version: str) -> str:
    """Why this webhook form may not be saved, or ""."""
    if not api_key.is_active:
        return "This key is revoked: its webhook can no longer change."
    if version != webhook_version(api_key):
        now = api_key.webhook_url or "off"
        return (
            "The webhook of this key changed after this page was loaded (perhaps the form was "
            f"sent twice), and is now “{now}”. Nothing was changed: save again to replace it."
        )
    return ""
