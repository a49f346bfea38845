from __future__ import annotations

from django.urls import path

from agenwork.views import coming_soon

app_name = "approval_flows"
urlpatterns = [
    path(
        "",
        coming_soon(
            "Approval flows",
            "Define who approves access requests for policies that require approval.",
        ),
        name="list",
    ),
]
