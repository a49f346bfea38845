"""The step-up link the MCP gateway gives a person's agent: /step-up/<token>/."""

from __future__ import annotations

from django.urls import path

from directory import views_step_up

app_name = "step_up"
urlpatterns = [
    path("<str:token>/", views_step_up.step_up_page, name="page"),
]
