"""Django admin registration, kept for superusers and as the benchmark's point of comparison."""

from __future__ import annotations

from django.contrib import admin

from requests_app.models import AccessRequest


@admin.register(AccessRequest)
class AccessRequestAdmin(admin.ModelAdmin):
    """The admin's default changelist with the Requests page's columns."""

    list_display = (
        "requester_name",
        "requester_identifier",
        "connector",
        "first_tool_key",
        "requested_at",
        "note",
    )
    list_filter = ("status", "connector")
    list_per_page = 25
    readonly_fields = [f.name for f in AccessRequest._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
