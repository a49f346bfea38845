"""The Dashboard's background work: recomputing a scope's figures once they are stale."""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model

from dashboard.figures import Scope, figures_refresh


@shared_task(ignore_result=True)
def refresh_dashboard_figures(flow_ids: list[int] | None, user_id: int | None) -> None:
    """Recompute and cache the figures of one scope (every request, or an approver's flows)."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    if flow_ids is not None and user is None:
        return  # the approver's login is gone: nobody will look at these figures
    figures_refresh(Scope(flow_ids=flow_ids, user=user))
