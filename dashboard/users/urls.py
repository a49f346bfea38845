from __future__ import annotations

from django.urls import path

from dashboard.users import views

app_name = "users"
urlpatterns = [
    path("", views.PersonListView.as_view(), name="list"),
    path("<int:pk>/", views.person_detail_view, name="detail"),
    path("<int:pk>/lock/", views.person_lock_view, name="lock"),
    path("<int:pk>/unlock/", views.person_unlock_view, name="unlock"),
    path("groups/", views.GroupListView.as_view(), name="groups"),
    path("groups/<int:pk>/", views.group_detail_view, name="group_detail"),
]
