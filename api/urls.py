from __future__ import annotations

from django.urls import path, re_path

from api import views

app_name = "api"
urlpatterns = [
    path("decisions", views.decisions, name="decisions"),
    path("requests/<str:public_id>", views.request_status, name="request"),
    path("requests/<str:public_id>/consume", views.request_consume_view, name="request_consume"),
    path("requests/<str:public_id>/cancel", views.request_cancel_view, name="request_cancel"),
    path("openapi.json", views.openapi, name="openapi"),
    path("docs/", views.docs, name="docs"),
    re_path(r"^(?P<path>.*)$", views.not_found),
]
