from __future__ import annotations

from django.urls import path

from agenwork.views import coming_soon

app_name = "policies"
urlpatterns = [
    path(
        "",
        coming_soon("Policies", "Define and manage security and usage policies."),
        name="list",
    ),
]
