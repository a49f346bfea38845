"""Settings → API keys, mounted at /settings/api-keys/."""

from __future__ import annotations

from django.urls import path

from gateways import views

app_name = "gateways"
urlpatterns = [
    path("", views.ApiKeyListView.as_view(), name="list"),
    path("new/", views.api_key_new, name="create"),
    path("<int:pk>/", views.api_key_detail, name="detail"),
    path("<int:pk>/revoke/", views.api_key_revoke_view, name="revoke"),
    path("<int:pk>/webhook/", views.api_key_webhook, name="webhook"),
]
