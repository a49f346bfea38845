"""/scim/v2/: included from agenwork/urls.py."""

from __future__ import annotations

from django.urls import path, re_path

from directory.scim import views

app_name = "scim"
urlpatterns = [
    path("ServiceProviderConfig", views.service_provider_config, name="config"),
    path("ResourceTypes", views.resource_types, name="resource_types"),
    path("ResourceTypes/<str:name>", views.resource_types, name="resource_type"),
    path("Schemas", views.schemas, name="schemas"),
    path("Schemas/<str:urn>", views.schemas, name="schema"),
    path(".search", views.search_everything, name="search"),
    path("Users", views.users_view, name="users"),
    path("Users/.search", views.users_search, name="users_search"),
    path("Users/<str:pk>", views.user_view, name="user"),
    path("Groups", views.groups_view, name="groups"),
    path("Groups/.search", views.groups_search, name="groups_search"),
    path("Groups/<str:pk>", views.group_view, name="group"),
    re_path(r"^(?P<path>.*)$", views.not_found, name="not_found"),
]
