"""Template context shared by every console page."""

from __future__ import annotations

from django.http import HttpRequest

from agenwork.roles import is_admin

# The left sidebar of the console: (label, url name, icon, built).
SIDEBAR = (
    ("Dashboard", "dashboard:home", "home"),
    ("Requests", "requests_app:list", "inbox"),
    ("Policies", "policies:list", "shield"),
    ("Approval flows", "approval_flows:list", "flow"),
    ("Connectors", "connectors:list", "plug"),
    ("Users", "directory:list", "users"),
    ("Activity", "dashboard:activity", "activity"),
)


def console(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    return {
        "sidebar": SIDEBAR,
        "is_admin": bool(user and is_admin(user)),
    }
