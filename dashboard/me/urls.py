from __future__ import annotations

from django.urls import path

from dashboard.me import views

app_name = "me"
urlpatterns = [
    path("", views.my_agents_view, name="agents"),
    path("agents/<int:application_pk>/revoke/", views.agent_revoke_view, name="agent_revoke"),
    path("tokens/<int:token_pk>/revoke/", views.token_revoke_view, name="token_revoke"),
]
