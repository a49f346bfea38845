"""Sign-in through the company's identity provider (OpenID Connect)."""

from __future__ import annotations

from django.urls import path

from directory import views

app_name = "sso"
urlpatterns = [
    path("start/", views.sso_start, name="start"),
    path("callback/", views.sso_callback, name="callback"),
]
