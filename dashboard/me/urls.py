from __future__ import annotations

from django.urls import path

from dashboard.me import views

app_name = "me"
urlpatterns = [
    path("", views.my_agents_view, name="agents"),
]
