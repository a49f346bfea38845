from __future__ import annotations

from django.urls import path

from agenwork.views import coming_soon

app_name = "connectors"
urlpatterns = [
    path(
        "",
        coming_soon("Connectors", "The SaaS tools agents reach, and the tools each exposes."),
        name="list",
    ),
]
