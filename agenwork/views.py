"""Console views that belong to no app: /favicon.ico, and the "coming" state of unbuilt pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from agenwork.roles import is_admin

FAVICON = "icons/favicon.ico"


@require_safe
@cache_control(public=True, max_age=24 * 60 * 60)
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for by themselves: a redirect to the static icon.

    - Not permanent: the static name is hashed and changes when the icon does.
    """
    return HttpResponseRedirect(static(FAVICON))


def coming_soon(title: str, summary: str):
    """A view for a sidebar page that a later release fills in; admins only."""

    @login_required
    def view(request: HttpRequest) -> HttpResponse:
        if not is_admin(request.user):
            raise PermissionDenied("Only admins can open this page.")
        return render(request, "coming_soon.html", {"title": title, "summary": summary})

    return view
