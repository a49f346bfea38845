from __future__ import annotations

from django.urls import path

from policies import views

app_name = "policies"
urlpatterns = [
    path("", views.PolicyListView.as_view(), name="list"),
    path("new/", views.policy_create_view, name="create"),
    path("simulate/", views.policy_simulate_view, name="simulate"),
    path("preview/", views.policy_preview_view, name="preview"),
    path("tools/", views.policy_tools_view, name="tools"),
    path("<int:pk>/", views.policy_detail_view, name="detail"),
    path("<int:pk>/edit/", views.policy_edit_view, name="edit"),
    path("<int:pk>/delete/", views.policy_delete_view, name="delete"),
]
