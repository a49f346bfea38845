from __future__ import annotations

from django.urls import path

from connectors import views

app_name = "connectors"
urlpatterns = [
    path("", views.ConnectorListView.as_view(), name="list"),
    path("<slug:slug>/", views.connector_detail_view, name="detail"),
    path("<slug:slug>/enabled/", views.connector_enabled_view, name="enabled"),
    path("<slug:slug>/credentials/", views.connector_credentials_view, name="credentials"),
    path("<slug:slug>/tools/<int:pk>/enabled/", views.tool_enabled_view, name="tool_enabled"),
    path("<slug:slug>/tools/<int:pk>/access/", views.tool_access_view, name="tool_access"),
]
