"""Writing policies: create, update and delete, each validated and recorded in the audit trail."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEntry
from policies.models import Policy
from policies.services import (
    PolicyData,
    policy_audit_state,
    policy_create,
    policy_delete,
    policy_update,
)
from tests.factories import (
    ApprovalFlowFactory,
    ConnectorFactory,
    GroupFactory,
    PersonFactory,
    ToolFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def calendar(connector):
    return connector


@pytest.fixture
def data(calendar, tools, requester) -> PolicyData:
    return PolicyData(
        name="  Ana may create events ",
        description="From her request",
        connector=calendar,
        action=Policy.Action.ALLOW,
        tools=tools[:1],
        users=[requester],
        groups=[GroupFactory(name="Sales")],
    )


def entries() -> list[AuditEntry]:
    return list(AuditEntry.objects.order_by("id"))


def test_create_saves_the_policy_and_records_who_and_what(data, admin_user, tools, requester):
    policy = policy_create(data=data, created_by=admin_user, actor=admin_user)
    assert policy.name == "Ana may create events"
    assert policy.created_by == admin_user
    assert list(policy.tools.all()) == tools[:1]
    [entry] = entries()
    assert (entry.action, entry.object_type, entry.object_id) == (
        "created",
        "policy",
        str(policy.pk),
    )
    assert entry.actor == admin_user
    assert entry.object_repr == "Ana may create events"
    assert entry.before is None
    assert entry.after == {
        "name": "Ana may create events",
        "description": "From her request",
        "connector": "google-calendar",
        "tools": ["google-calendar_events_create"],
        "all_users": False,
        "users": ["ana@example.com"],
        "groups": ["Sales"],
        "action": "allow",
        "approval_flow": None,
        "enabled": True,
    }


def test_create_with_created_by_alone_records_that_login(data, admin_user):
    """requests_app's Create policy passes created_by only; the audit still names the admin."""
    policy_create(data=data, created_by=admin_user)
    [entry] = entries()
    assert entry.actor == admin_user
    assert entry.actor_name == "admin"


def test_create_without_anyone_is_recorded_as_the_system(data):
    policy_create(data=data)
    [entry] = entries()
    assert entry.actor is None
    assert entry.actor_name == ""


def test_create_with_all_users_keeps_no_user_list(data, admin_user):
    data.all_users = True
    policy = policy_create(data=data, actor=admin_user)
    assert list(policy.users.all()) == []
    assert entries()[0].after["users"] == []


def test_invalid_create_stores_nothing(data, admin_user):
    data.description = "x" * 161
    with pytest.raises(ValidationError) as caught:
        policy_create(data=data, actor=admin_user)
    assert "description" in caught.value.message_dict
    assert Policy.objects.count() == 0
    assert entries() == []


def test_update_changes_every_field_and_records_before_and_after(data, admin_user, tools, flow):
    policy = policy_create(data=data, actor=admin_user)
    github = ConnectorFactory(slug="github", name="GitHub")
    delete = ToolFactory(connector=github, key="github_repos_delete")
    ben = PersonFactory(name="Ben Kim", email="ben@example.com")
    changed = PolicyData(
        name="Repos need approval",
        description="",
        connector=github,
        action=Policy.Action.APPROVAL,
        tools=[delete],
        users=[ben],
        groups=[],
        approval_flow=flow,
        enabled=False,
    )
    saved = policy_update(policy=policy, data=changed, actor=admin_user)
    saved.refresh_from_db()
    assert (saved.name, saved.connector, saved.action, saved.enabled) == (
        "Repos need approval",
        github,
        Policy.Action.APPROVAL,
        False,
    )
    assert saved.approval_flow == flow
    assert list(saved.tools.all()) == [delete]
    created, updated = entries()
    assert updated.action == AuditEntry.Action.UPDATED
    assert updated.before == created.after
    assert updated.after == {
        "name": "Repos need approval",
        "description": "",
        "connector": "github",
        "tools": ["github_repos_delete"],
        "all_users": False,
        "users": ["ben@example.com"],
        "groups": [],
        "action": "approval_required",
        "approval_flow": "Sales approvals",
        "enabled": False,
    }


def test_invalid_update_changes_nothing(data, admin_user):
    policy = policy_create(data=data, actor=admin_user)
    state = policy_audit_state(policy)
    data.action = Policy.Action.APPROVAL  # without a flow
    with pytest.raises(ValidationError):
        policy_update(policy=policy, data=data, actor=admin_user)
    policy.refresh_from_db()
    assert policy_audit_state(policy) == state
    assert len(entries()) == 1


def test_update_of_a_deleted_policy_raises(data, admin_user):
    policy = policy_create(data=data, actor=admin_user)
    Policy.objects.filter(pk=policy.pk).delete()
    with pytest.raises(Policy.DoesNotExist):
        policy_update(policy=policy, data=data, actor=admin_user)


def test_delete_removes_the_policy_and_records_what_it_was(data, admin_user):
    policy = policy_create(data=data, actor=admin_user)
    state = policy_audit_state(policy)
    assert policy_delete(policy=policy, actor=admin_user) == state
    assert not Policy.objects.filter(pk=policy.pk).exists()
    _, deleted = entries()
    assert (deleted.action, deleted.object_id) == ("deleted", str(policy.pk))
    assert deleted.before == state
    assert deleted.after is None


def test_delete_keeps_the_requests_it_decided(data, admin_user, access_request):
    policy = policy_create(data=data, actor=admin_user)
    type(access_request).objects.filter(pk=access_request.pk).update(policy=policy)
    policy_delete(policy=policy, actor=admin_user)
    access_request.refresh_from_db()
    assert access_request.policy is None


def test_delete_twice_raises(data, admin_user):
    policy = policy_create(data=data, actor=admin_user)
    policy_delete(policy=policy, actor=admin_user)
    with pytest.raises(Policy.DoesNotExist):
        policy_delete(policy=policy, actor=admin_user)
    assert len(entries()) == 2


def test_a_disabled_flow_stays_valid_for_its_policy(data, admin_user):
    flow = ApprovalFlowFactory(name="Old flow", enabled=False)
    data.action = Policy.Action.APPROVAL
    data.approval_flow = flow
    policy = policy_create(data=data, actor=admin_user)
    assert policy.approval_flow == flow
