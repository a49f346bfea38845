from __future__ import annotations

from django.urls import path

from approval_flows import views

app_name = "approval_flows"
urlpatterns = [
    path("", views.FlowListView.as_view(), name="list"),
    path("new/", views.flow_create_view, name="create"),
    path("<int:pk>/", views.flow_detail_view, name="detail"),
    path("<int:pk>/edit/", views.flow_edit_view, name="edit"),
    path("<int:pk>/delete/", views.flow_delete_view, name="delete"),
]
