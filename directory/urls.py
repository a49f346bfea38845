from __future__ import annotations

from django.urls import path

from agenwork.views import coming_soon

app_name = "directory"
urlpatterns = [
    path(
        "",
        coming_soon("Users", "People and groups from your identity provider."),
        name="list",
    ),
]
