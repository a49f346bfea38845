"""Template context shared by every console page."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from agenwork.roles import is_admin

# The left sidebar of the console: (label, url name, icon). Approvers see the first two only.
SIDEBAR = (
    ("Dashboard", "dashboard:home", "home"),
    ("Requests", "requests_app:list", "inbox"),
    ("Policies", "policies:list", "shield"),
    ("Approval flows", "approval_flows:list", "flow"),
    ("Connectors", "connectors:list", "plug"),
    ("Users", "users:list", "users"),
    ("Activity", "dashboard:activity", "activity"),
    ("Settings", "gateways:list", "settings"),
)
APPROVER_ITEMS = 2
# Every login that is a person of the directory has a page of its own, below the rest.
PERSON_ITEM = ("My agents", "me:agents", "agent")
ADMIN, APPROVER, PERSON = "admin", "approver", "person"
ROLE_LABELS = {ADMIN: "Admin", APPROVER: "Approver", PERSON: "Requester"}


def console(request: HttpRequest) -> dict[str, object]:
    """The sidebar, with the current page marked, and the login's role; once per request."""
    # A page can bind more than one template to its request (render_table does): build it once.
    cached = getattr(request, "_console_context", None)
    if cached is not None:
        return cached
    user = getattr(request, "user", None)
    admin = bool(user and is_admin(user))
    # A view that found the login decides nothing says so (`request.console_role = PERSON`):
    # no Dashboard or Requests for it. Every other non-admin page is an approver's.
    role = ADMIN if admin else getattr(request, "console_role", APPROVER)
    entries = list(SIDEBAR if admin else () if role == PERSON else SIDEBAR[:APPROVER_ITEMS])
    if user is not None and getattr(user, "person", None) is not None:
        entries.append(PERSON_ITEM)
    items = []
    for label, url_name, icon in entries:
        url = reverse(url_name)
        active = request.path == url or (url != "/" and request.path.startswith(url))
        items.append({"label": label, "url": url, "icon": icon, "active": active})
    request._console_context = {
        "sidebar": items,
        "is_admin": admin,
        "role_label": ROLE_LABELS[role],
    }
    return request._console_context
