from __future__ import annotations

from django.urls import path

from dashboard import views, views_activity

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("activity/", views_activity.activity, name="activity"),
    path("activity/export.csv", views_activity.activity_csv, name="activity_csv"),
]
