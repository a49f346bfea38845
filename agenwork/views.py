"""Console views that belong to no app: the honest "coming" state of pages not built yet."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agenwork.roles import is_admin


def coming_soon(title: str, summary: str):
    """A view for a sidebar page that a later release fills in; admins only."""

    @login_required
    def view(request: HttpRequest) -> HttpResponse:
        if not is_admin(request.user):
            raise PermissionDenied("Only admins can open this page.")
        return render(request, "coming_soon.html", {"title": title, "summary": summary})

    return view
