"""What an undecided request comes to: nothing unless chosen, auto-approve only on purpose."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from approval_flows.models import ApprovalFlow
from audit.models import AuditEntry
from tests.approval_flows.test_views import HTMX, NEW, errors, flow_post, html

pytestmark = pytest.mark.django_db


def checked(body: str) -> list[str]:
    """The values of the checked timeout choices."""
    return re.findall(r'<input type="radio" name="timeout_action" value="(\w+)"[^>]*checked', body)


def test_a_new_flow_form_has_no_automatic_outcome(admin_client):
    body = html(admin_client.get(NEW, **HTMX))
    assert checked(body) == ["wait"]
    # The time is empty: its number input has no value.
    assert re.search(r'<input type="number" name="timeout_after"(?![^>]*value=)', body)
    # Auto-approve is offered with what it means, never preselected.
    assert 'value="auto_approve"' in body
    assert "Nobody approves: once the time is up" in body


def test_a_flow_saved_with_keep_waiting_has_no_timeout(admin_client, people, security_group):
    data = flow_post(people, security_group, timeout_action="wait", timeout_after="")
    response = admin_client.post(NEW, data, **HTMX)
    assert response.status_code == 200
    flow = ApprovalFlow.objects.get(name="Two-level approvals")
    assert flow.timeout_after is None
    assert "Never: a request waits until someone decides" in html(response)
    assert "auto-approve-warning" not in html(response)
    entry = AuditEntry.objects.get(object_type="approval_flow", object_id=str(flow.pk))
    assert entry.after["timeout_after_seconds"] is None


def test_auto_approve_chosen_in_the_timing_step_is_saved_and_flagged(
    admin_client, people, security_group
):
    data = flow_post(
        people, security_group, timeout_action="auto_approve", timeout_after="8", escalate_after=""
    )
    data["timeout_after_unit"] = "hours"
    response = admin_client.post(NEW, data, **HTMX)
    assert response.status_code == 200
    flow = ApprovalFlow.objects.get(name="Two-level approvals")
    assert (flow.timeout_after, flow.timeout_action) == (timedelta(hours=8), "auto_approve")
    body = html(response)
    assert "After 8 hours: Auto-approve" in body
    assert "approved anyway, without a person's approval" in body


def test_auto_approve_without_a_time_is_refused(admin_client, people, security_group):
    data = flow_post(people, security_group, timeout_action="auto_approve", timeout_after="")
    response = admin_client.post(NEW, data, **HTMX)
    assert response.status_code == 400
    assert "Say when an undecided request is auto-approved." in html(response)
    assert not ApprovalFlow.objects.exists()


def test_an_existing_auto_approve_flow_keeps_its_timing(admin_client, flow, people):
    """A flow saved before keeps auto-approve after 24 h: the edit form shows it and saves it."""
    assert (flow.timeout_after, flow.timeout_action) == (timedelta(hours=24), "auto_approve")
    body = html(admin_client.get(f"/approval-flows/{flow.pk}/edit/", **HTMX))
    assert checked(body) == ["auto_approve"]
    assert 'name="timeout_after" value="1"' in body

    group = flow.levels.get().groups.get()
    data = {
        "step": "1",
        "nav": "save",
        "name": flow.name,
        "enabled": "on",
        "channels": ["email", "sms"],
        "level_count": "1",
        "level_1_groups": [group.pk],
        "min_approvals": "1",
        "reminder_after": "1",
        "reminder_after_unit": "hours",
        "max_reminders": "3",
        "timeout_action": "auto_approve",
        "timeout_after": "1",
        "timeout_after_unit": "days",
        "notify_requester": "on",
    }
    response = admin_client.post(f"/approval-flows/{flow.pk}/edit/", data, **HTMX)
    assert response.status_code == 200, errors(response)
    flow.refresh_from_db()
    assert (flow.timeout_after, flow.timeout_action) == (timedelta(hours=24), "auto_approve")
