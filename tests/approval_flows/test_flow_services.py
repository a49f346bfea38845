"""Writes to approval flows: validation, levels, audit, and refusals while a flow is in use."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from approval_flows.models import ApprovalFlow, ApprovalLevel
from approval_flows.selectors import flow_usage, reachable_approver_count
from approval_flows.services import (
    FlowData,
    FlowInUse,
    LevelData,
    approval_flow_create,
    approval_flow_delete,
    approval_flow_errors,
    approval_flow_update,
)
from audit.models import AuditEntry
from directory.models import Person
from policies.models import Policy
from requests_app.models import AccessRequest
from tests.factories import GroupFactory, PersonFactory, PolicyFactory, make_request

HOUR = timedelta(hours=1)


@pytest.fixture
def people(db) -> dict[str, Person]:
    return {
        "dana": PersonFactory(name="Dana Levi", email="dana@example.com"),
        "eve": PersonFactory(name="Eve Stone", email="eve@example.com"),
        "finn": PersonFactory(name="Finn Moss", email="finn@example.com"),
        "lee": PersonFactory(name="Lee Park", email="lee@example.com", status="locked"),
    }


@pytest.fixture
def security(people):
    group = GroupFactory(name="Security")
    group.members.add(people["dana"], people["eve"])
    return group


def two_levels(people, security, **overrides) -> FlowData:
    fields = {
        "name": "Two-level approvals",
        "description": "Security first, then Finn",
        "channel_email": True,
        "channel_sms": True,
        "levels": [
            LevelData(people=[people["dana"]], groups=[security], backup_people=[people["finn"]]),
            LevelData(people=[people["finn"]]),
        ],
        "min_approvals": 2,
        "reminder_after": HOUR,
        "reminder_repeat": 2 * HOUR,
        "max_reminders": 2,
        "escalate_after": 4 * HOUR,
        "timeout_after": 24 * HOUR,
        "timeout_action": ApprovalFlow.TimeoutAction.DENY,
        "notify_requester": False,
    }
    fields.update(overrides)
    return FlowData(**fields)


def stored() -> tuple:
    """Everything a flow write could change."""
    return (
        sorted(ApprovalFlow.objects.values_list("pk", "name", "enabled", "min_approvals")),
        sorted(ApprovalLevel.objects.values_list("flow_id", "position")),
        sorted(ApprovalLevel.people.through.objects.values_list("approvallevel_id", "person_id")),
        AuditEntry.objects.count(),
    )


# --- create ---------------------------------------------------------------------------------


def test_create_stores_the_flow_its_levels_and_an_audit_entry(people, security, admin_user):
    flow = approval_flow_create(data=two_levels(people, security), actor=admin_user)
    assert (flow.channel_email, flow.channel_sms, flow.min_approvals) == (True, True, 2)
    assert (flow.reminder_after, flow.escalate_after, flow.timeout_after) == (
        HOUR,
        4 * HOUR,
        24 * HOUR,
    )
    first, second = flow.levels.order_by("position")
    assert list(first.people.all()) == [people["dana"]]
    assert list(first.groups.all()) == [security]
    assert list(first.backup_people.all()) == [people["finn"]]
    assert (second.position, list(second.people.all())) == (2, [people["finn"]])
    entry = AuditEntry.objects.get(object_type="approval_flow", object_id=str(flow.pk))
    assert (entry.action, entry.actor, entry.before) == ("created", admin_user, None)
    assert entry.after == {
        "name": "Two-level approvals",
        "description": "Security first, then Finn",
        "channels": ["email", "sms"],
        "levels": [
            {
                "position": 1,
                "people": ["dana@example.com"],
                "groups": ["Security"],
                "backup_people": ["finn@example.com"],
            },
            {"position": 2, "people": ["finn@example.com"], "groups": [], "backup_people": []},
        ],
        "min_approvals": 2,
        "reminder_after_seconds": 3600,
        "reminder_repeat_seconds": 7200,
        "max_reminders": 2,
        "escalate_after_seconds": 14400,
        "timeout_after_seconds": 86400,
        "timeout_action": "deny",
        "notify_requester": False,
        "enabled": True,
    }


def test_create_trims_the_name(people, security):
    flow = approval_flow_create(data=two_levels(people, security, name="  Spaced  "))
    assert flow.name == "Spaced"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "  "}, "name", "Give the flow a name."),
        ({"channel_email": False, "channel_sms": False}, "channels", "at least one channel"),
        ({"levels": []}, "levels", "at least one level"),
        ({"min_approvals": 0}, "min_approvals", "Ask for 1 to 100 approvals."),
        ({"min_approvals": 3}, "min_approvals", "Level 1 reaches only 2 active approvers"),
        ({"timeout_after": None}, "timeout_after", "Say when an undecided request is denied."),
        (
            {"timeout_after": None, "timeout_action": ApprovalFlow.TimeoutAction.AUTO_APPROVE},
            "timeout_after",
            "Say when an undecided request is auto-approved.",
        ),
        ({"timeout_after": timedelta(0)}, "timeout_after", "between 1 minute and 365 days"),
        ({"reminder_after": 30 * HOUR}, "reminder_after", "Remind before the timeout"),
        ({"reminder_after": None}, "reminder_repeat", "Set when the first reminder"),
        ({"max_reminders": 0}, "max_reminders", "at least one reminder"),
        ({"escalate_after": 24 * HOUR}, "escalate_after", "Escalate before the timeout"),
        ({"timeout_action": "shrug"}, "timeout_action", "auto-approve, deny or expire"),
        ({"description": "x" * 501}, "description", "500 characters"),
    ],
)
def test_invalid_flow_is_refused_field_by_field_and_stores_nothing(
    people, security, overrides, field, message
):
    before = stored()
    with pytest.raises(ValidationError) as caught:
        approval_flow_create(data=two_levels(people, security, **overrides))
    assert message in " ".join(caught.value.message_dict[field])
    assert stored() == before


def test_a_flow_made_without_timing_waits_for_a_person(people, security):
    data = FlowData(name="Plain", levels=[LevelData(groups=[security])])
    flow = approval_flow_create(data=data)
    assert (flow.timeout_after, flow.timeout_action) == (None, ApprovalFlow.TimeoutAction.EXPIRE)
    assert ApprovalFlow().timeout_after is None  # the model's own default, too
    assert ApprovalFlow().timeout_action == ApprovalFlow.TimeoutAction.EXPIRE


def test_a_level_with_only_backups_is_refused(people, security):
    levels = [LevelData(people=[people["dana"]]), LevelData(backup_people=[people["eve"]])]
    data = two_levels(people, security, levels=levels, min_approvals=1)
    errors = approval_flow_errors(data)
    assert errors == {
        "level_2": "Choose at least one person or group for level 2: "
        "backup approvers alone are never notified."
    }


def test_escalation_needs_a_second_level(people, security):
    data = two_levels(people, security, levels=[LevelData(groups=[security])], min_approvals=1)
    assert approval_flow_errors(data) == {
        "escalate_after": "Escalation needs a second level of approvers."
    }


def test_names_are_unique_whatever_their_case(people, security):
    approval_flow_create(data=two_levels(people, security))
    with pytest.raises(ValidationError) as caught:
        approval_flow_create(data=two_levels(people, security, name="TWO-LEVEL approvals"))
    assert caught.value.message_dict["name"] == ["Another flow already has this name."]


def test_reach_counts_active_people_named_or_in_groups_once(people, security):
    # Dana is named and a member; Lee is locked; backups are not counted: nobody notifies them.
    named = [people["dana"], people["lee"]]
    assert reachable_approver_count(people=named, groups=[security]) == 2
    assert reachable_approver_count(people=[people["lee"]], groups=[]) == 0
    data = two_levels(people, security, levels=[LevelData(people=[people["lee"]])])
    data.escalate_after = None
    assert "reaches nobody" in approval_flow_errors(data)["min_approvals"]


def test_minimum_equal_to_the_reach_is_fine(people, security):
    assert approval_flow_errors(two_levels(people, security, min_approvals=2)) == {}


# --- update ---------------------------------------------------------------------------------


def test_update_changes_fields_and_levels_and_records_before_and_after(
    people, security, admin_user
):
    flow = approval_flow_create(data=two_levels(people, security))
    level_one = flow.levels.get(position=1)
    data = two_levels(
        people,
        security,
        name="Security only",
        levels=[LevelData(groups=[security])],
        escalate_after=None,
        channel_sms=False,
        min_approvals=1,
        timeout_action=ApprovalFlow.TimeoutAction.EXPIRE,
    )
    saved = approval_flow_update(flow=flow, data=data, actor=admin_user)
    assert (saved.name, saved.channel_sms, saved.timeout_action) == (
        "Security only",
        False,
        "expire",
    )
    # Levels are kept by position: level 1 is the same row, level 2 is gone.
    assert list(saved.levels.values_list("pk", flat=True)) == [level_one.pk]
    assert list(level_one.people.all()) == []
    entry = AuditEntry.objects.get(object_id=str(flow.pk), action="updated")
    assert entry.before["name"] == "Two-level approvals"
    assert len(entry.before["levels"]) == 2
    assert entry.after["levels"] == [
        {"position": 1, "people": [], "groups": ["Security"], "backup_people": []}
    ]
    assert (entry.before["channels"], entry.after["channels"]) == (["email", "sms"], ["email"])
    assert entry.after["escalate_after_seconds"] is None


def test_invalid_update_stores_nothing(people, security):
    flow = approval_flow_create(data=two_levels(people, security))
    before = stored()
    with pytest.raises(ValidationError):
        approval_flow_update(flow=flow, data=two_levels(people, security, min_approvals=9))
    assert stored() == before


def test_update_keeps_its_own_name(people, security):
    flow = approval_flow_create(data=two_levels(people, security))
    approval_flow_update(flow=flow, data=two_levels(people, security, description="New"))
    assert ApprovalFlow.objects.get(pk=flow.pk).description == "New"


def test_update_of_a_deleted_flow_raises(people, security):
    flow = approval_flow_create(data=two_levels(people, security))
    ApprovalFlow.objects.filter(pk=flow.pk).delete()
    with pytest.raises(ApprovalFlow.DoesNotExist):
        approval_flow_update(flow=flow, data=two_levels(people, security))


# --- in use: disable and delete are refused -------------------------------------------------


@pytest.fixture(autouse=True)
def _security_has_a_member(request):
    """The shared `flow` fixture's approver group, with somebody in it."""
    if "security_group" in request.fixturenames:
        group = request.getfixturevalue("security_group")
        group.members.add(PersonFactory(name="Sam Guard", email="sam@example.com"))


@pytest.fixture
def used_by_policy(flow, connector):
    PolicyFactory(
        name="Sales changes",
        connector=connector,
        action=Policy.Action.APPROVAL,
        approval_flow=flow,
        all_users=False,
    )
    return flow


def test_delete_is_refused_while_a_policy_uses_the_flow(used_by_policy):
    before = stored()
    with pytest.raises(FlowInUse) as caught:
        approval_flow_delete(flow=used_by_policy)
    assert str(caught.value) == "Cannot delete this flow: it is used by 1 policy."
    assert [name for _, name in caught.value.usage.policies] == ["Sales changes"]
    assert stored() == before


def test_delete_is_refused_while_a_request_is_pending(access_request, flow):
    with pytest.raises(FlowInUse) as caught:
        approval_flow_delete(flow=flow)
    usage = caught.value.usage
    assert (usage.policy_count, usage.pending_count) == (0, 1)
    assert usage.pending[0].public_id == access_request.public_id
    assert usage.pending[0].requester_name == "Ana Lopez"
    assert ApprovalFlow.objects.filter(pk=flow.pk).exists()


def test_delete_unlinks_decided_requests_and_records_what_the_flow_was(
    access_request, flow, admin_user
):
    AccessRequest.objects.filter(pk=access_request.pk).update(status="denied")
    before = approval_flow_delete(flow=flow, actor=admin_user)
    assert not ApprovalFlow.objects.filter(pk=flow.pk).exists()
    assert not ApprovalLevel.objects.filter(flow_id=flow.pk).exists()
    access_request.refresh_from_db()
    assert (access_request.status, access_request.flow_id) == ("denied", None)
    entry = AuditEntry.objects.get(object_id=str(flow.pk), action="deleted")
    assert entry.before == before
    assert entry.before["levels"][0]["groups"] == ["Security"]
    assert (entry.after, entry.object_repr) == (None, "Sales approvals")


def test_disable_is_refused_while_in_use_but_other_changes_are_saved(
    used_by_policy, access_request, security_group
):
    flow = used_by_policy
    data = FlowData(name=flow.name, levels=[LevelData(groups=[security_group])], enabled=False)
    data.min_approvals = 1
    before = stored()
    with pytest.raises(FlowInUse) as caught:
        approval_flow_update(flow=flow, data=data)
    assert (
        str(caught.value)
        == "Cannot disable this flow: it is used by 1 policy and 1 pending request."
    )
    assert stored() == before
    data.enabled = True
    data.description = "Still routing Sales requests"
    approval_flow_update(flow=flow, data=data)
    assert ApprovalFlow.objects.get(pk=flow.pk).description == "Still routing Sales requests"


def test_an_unused_flow_can_be_disabled_and_enabled_again(flow, security_group):
    data = FlowData(name=flow.name, levels=[LevelData(groups=[security_group])], enabled=False)
    assert approval_flow_update(flow=flow, data=data).enabled is False
    data.enabled = True
    assert approval_flow_update(flow=flow, data=data).enabled is True
    actions = AuditEntry.objects.filter(object_id=str(flow.pk)).values_list("action", flat=True)
    assert list(actions) == ["updated", "updated"]


def test_usage_lists_a_few_of_many(flow, requester, tools, connector):
    for i in range(7):
        make_request(requester=requester, tools=tools[:1], flow=flow, arguments={"call": i})
    for i in range(22):
        PolicyFactory(
            name=f"Policy {i:02d}",
            connector=connector,
            action=Policy.Action.APPROVAL,
            approval_flow=flow,
            all_users=False,
        )
    usage = flow_usage(flow)
    assert (usage.policy_count, len(usage.policies), usage.more_policies) == (22, 20, 2)
    assert usage.policies[0][1] == "Policy 00"
    assert (usage.pending_count, len(usage.pending), usage.more_pending) == (7, 5, 2)
