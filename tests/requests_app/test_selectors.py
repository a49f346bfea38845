"""Who sees which requests and who may decide them, for the personas of conftest."""

from __future__ import annotations

import uuid

import pytest

from approval_flows.models import ApprovalFlow
from directory.models import Person
from requests_app.models import AccessRequest
from requests_app.selectors import (
    approver_flow_ids,
    request_for_panel,
    request_list,
    requests_visible_to,
    user_may_decide,
)
from tests.factories import (
    ApprovalFlowFactory,
    ApprovalLevelFactory,
    GroupFactory,
    PersonFactory,
    UserFactory,
    make_request,
)


@pytest.fixture
def other_flow(db) -> ApprovalFlow:
    flow = ApprovalFlowFactory(name="Finance approvals")
    level = ApprovalLevelFactory(flow=flow, position=1)
    level.groups.add(GroupFactory(name="Finance"))
    return flow


@pytest.fixture
def other_request(requester, tools, other_flow) -> AccessRequest:
    return make_request(requester=requester, tools=tools[2:], flow=other_flow)


@pytest.fixture
def unrouted_request(requester, tools) -> AccessRequest:
    return make_request(requester=requester, tools=tools[:1], flow=None)


def lock(user) -> None:
    Person.objects.filter(user=user).update(status=Person.Status.LOCKED)
    user.refresh_from_db()


def visible(user) -> set[int]:
    return set(requests_visible_to(user).values_list("pk", flat=True))


# --- approver_flow_ids --------------------------------------------------------------------


def test_admin_has_no_flow_restriction(admin_user, flow):
    assert approver_flow_ids(admin_user) is None


def test_approver_decides_in_the_flows_their_group_approves(approver_user, flow, other_flow):
    assert approver_flow_ids(approver_user) == [flow.pk]


def test_named_and_backup_approvers_decide_in_their_flows(outsider_user, flow, other_flow):
    person = outsider_user.person
    flow.levels.get().people.add(person)
    other_flow.levels.get().backup_people.add(person)
    assert sorted(approver_flow_ids(outsider_user)) == sorted([flow.pk, other_flow.pk])


def test_outsider_decides_in_no_flow(outsider_user, flow):
    assert approver_flow_ids(outsider_user) == []


def test_locked_approver_decides_in_no_flow(approver_user, flow):
    lock(approver_user)
    assert approver_flow_ids(approver_user) == []


def test_login_without_a_person_decides_in_no_flow(flow):
    assert approver_flow_ids(UserFactory(username="nobody")) == []


# --- requests_visible_to / request_list ---------------------------------------------------


def test_admin_sees_every_request(admin_user, access_request, other_request, unrouted_request):
    assert visible(admin_user) == {access_request.pk, other_request.pk, unrouted_request.pk}


def test_approver_sees_only_the_requests_of_their_flow(
    approver_user, access_request, other_request, unrouted_request
):
    assert visible(approver_user) == {access_request.pk}


def test_outsider_sees_no_request(outsider_user, access_request, other_request):
    assert visible(outsider_user) == set()


def test_locked_approver_sees_no_request(approver_user, access_request):
    lock(approver_user)
    assert visible(approver_user) == set()


def test_inactive_staff_login_is_no_admin_and_sees_no_request(access_request):
    former_admin = UserFactory(username="former", is_staff=True, is_active=False)
    assert approver_flow_ids(former_admin) == []
    assert visible(former_admin) == set()


def test_request_list_is_limited_to_the_flow_ids_given(
    approver_user, access_request, other_request
):
    flow_ids = approver_flow_ids(approver_user)
    rows = list(request_list(approver_user, flow_ids))
    assert [r.pk for r in rows] == [access_request.pk]
    assert rows[0].connector.name == "Google Calendar"


# --- user_may_decide ----------------------------------------------------------------------


def test_admin_may_decide_any_request(admin_user, access_request, other_request):
    assert user_may_decide(admin_user, access_request) == (True, "")
    assert user_may_decide(admin_user, other_request) == (True, "")


def test_approver_may_decide_requests_of_their_flow_only(
    approver_user, access_request, other_request
):
    assert user_may_decide(approver_user, access_request) == (True, "")
    assert user_may_decide(approver_user, other_request) == (
        False,
        "You are not an approver of this request's flow.",
    )


def test_outsider_may_not_decide(outsider_user, access_request):
    assert user_may_decide(outsider_user, access_request) == (
        False,
        "You are not an approver of this request's flow.",
    )


def test_locked_approver_may_not_decide(approver_user, access_request):
    lock(approver_user)
    assert user_may_decide(approver_user, access_request) == (
        False,
        "Your login is not linked to an active approver.",
    )


def test_approver_may_not_decide_their_own_request(
    requester, security_group, access_request, other_request
):
    requester.user = UserFactory(username="ana")
    requester.save()
    security_group.members.add(requester)
    # Ana approves the flow, so she sees her request, but she may not decide it.
    assert visible(requester.user) == {access_request.pk}
    assert user_may_decide(requester.user, access_request) == (
        False,
        "Nobody decides their own request.",
    )


def test_admin_may_not_decide_their_own_request(admin_user, requester, access_request):
    requester.user = admin_user
    requester.save()
    admin_user.refresh_from_db()
    assert visible(admin_user) == {access_request.pk}
    assert user_may_decide(admin_user, access_request) == (
        False,
        "Nobody decides their own request.",
    )


def test_admin_with_a_person_may_decide_somebody_elses_request(admin_user, access_request):
    PersonFactory(name="Ada Admin", user=admin_user)
    admin_user.refresh_from_db()
    assert user_may_decide(admin_user, access_request) == (True, "")


# --- request_for_panel --------------------------------------------------------------------


def test_panel_loads_a_visible_request_with_its_tools_and_events(
    approver_user, access_request, tools, django_assert_num_queries
):
    # One query for the login's flows, one for the request, three prefetches.
    with django_assert_num_queries(5):
        panel = request_for_panel(approver_user, access_request.public_id)
        assert panel.pk == access_request.pk
        assert [t.tool.key for t in panel.tools.all()] == [tools[0].key, tools[1].key]
        assert [e.kind for e in panel.events.all()] == ["created", "notified"]
        assert [g.name for g in panel.requester.groups.all()] == ["Sales"]
        assert panel.flow.name == "Sales approvals"


@pytest.mark.parametrize("persona", ["approver_user", "outsider_user"])
def test_panel_is_none_for_a_request_the_login_may_not_see(request, other_request, persona):
    user = request.getfixturevalue(persona)
    assert request_for_panel(user, other_request.public_id) is None


def test_panel_is_none_for_a_locked_approver(approver_user, access_request):
    lock(approver_user)
    assert request_for_panel(approver_user, access_request.public_id) is None


def test_panel_is_none_for_an_unknown_request(admin_user, access_request):
    assert request_for_panel(admin_user, uuid.uuid4()) is None


def test_admin_panel_shows_a_request_of_any_flow(admin_user, other_request):
    assert request_for_panel(admin_user, other_request.public_id).pk == other_request.pk
