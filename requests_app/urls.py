from __future__ import annotations

from django.urls import path

from requests_app import views, views_bulk

app_name = "requests_app"
urlpatterns = [
    path("", views.RequestListView.as_view(), name="list"),
    path("bulk/", views_bulk.requests_bulk, name="bulk"),
    path("<uuid:public_id>/", views.request_detail, name="detail"),
    path("<uuid:public_id>/approve/", views.request_approve_view, name="approve"),
    path("<uuid:public_id>/deny/", views.request_deny_view, name="deny"),
    path("<uuid:public_id>/create-policy/", views.request_create_policy, name="create_policy"),
]
