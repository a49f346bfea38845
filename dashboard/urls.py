from __future__ import annotations

from django.urls import path

from agenwork.views import coming_soon
from dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path(
        "activity/",
        coming_soon("Activity", "The audit trail of every decision and change."),
        name="activity",
    ),
]
