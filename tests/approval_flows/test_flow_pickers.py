"""The flow form's approver lists: searchable, read once per form, and what a plain list posts."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from approval_flows.models import ApprovalFlow
from tests.approval_flows.test_views import (
    flow_post,
    html,
)
from tests.factories import ApprovalLevelFactory, GroupFactory, PersonFactory
from tests.support.forms import native_select

NEW = "/approval-flows/new/"
LISTS = ("level_1_people", "level_1_groups", "level_1_backup_people")


def test_every_list_of_a_level_is_a_picker_of_people_or_groups(admin_client, people):
    body = html(admin_client.get(NEW))
    for name in LISTS:
        tag = native_select(body, name).tag
        assert "multiple" in tag and "data-picker" in tag, name
    approvers = native_select(body, "level_1_people").values
    assert approvers["Mia Chen · mia@example.com"] == str(people["mia"].pk)
    assert native_select(body, "level_1_backup_people").values == approvers
    assert list(native_select(body, "level_1_groups").values) == ["Security"]


def test_what_the_plain_lists_post_is_what_the_flow_saves(admin_client, people, security_group):
    """Without JavaScript a person Ctrl-clicks options: the form posts the lists' own names."""
    body = html(admin_client.get(NEW))
    approvers = native_select(body, "level_1_people").values
    groups = native_select(body, "level_1_groups").values
    data = flow_post(
        people,
        security_group,
        level_count="1",
        level_1_people=[approvers["Mia Chen · mia@example.com"]],
        level_1_groups=[groups["Security"]],
        level_1_backup_people=[approvers["Finn Moss · finn@example.com"]],
        level_2_people=None,
        escalate_after="",
        min_approvals="1",
    )
    assert admin_client.post(NEW, data).status_code == 302
    level = ApprovalFlow.objects.get(name="Two-level approvals").levels.get()
    assert [p.email for p in level.people.all()] == ["mia@example.com"]
    assert [g.name for g in level.groups.all()] == ["Security"]
    assert [p.email for p in level.backup_people.all()] == ["finn@example.com"]


def test_more_levels_and_more_people_read_the_directory_no_more_often(admin_client, flow, people):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(f"/approval-flows/{flow.pk}/edit/")
        assert response.status_code == 200
        return len(ctx.captured_queries)

    one_level = queries()
    for position in range(2, 6):
        ApprovalLevelFactory(flow=flow, position=position).people.add(people["finn"])
    PersonFactory.create_batch(30)
    GroupFactory.create_batch(3)
    # Fifteen lists of 33 people cost what three lists of 3 cost: the options are read once.
    assert queries() == one_level
