"""How a console login is loaded on each request: with its directory person, in one query."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class PersonLoginBackend(ModelBackend):
    """Django's model backend, loading the login's person with the login.

    Every console page names the person in the sidebar, and an approver's pages find their
    flows through them: a join here saves a query on each page.
    """

    def get_user(self, user_id: Any) -> Any:
        users = get_user_model()._default_manager.select_related("person")
        try:
            user = users.get(pk=user_id)
        except get_user_model().DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
