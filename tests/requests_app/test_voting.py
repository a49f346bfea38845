"""Approvers' votes: N-of-M approvals, any deny denies, who may vote, and votes racing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from requests_app.models import AccessRequest, Channel, RequestApproval, RequestEvent
from requests_app.services import Actor, RequestAlreadyDecided, request_approve, request_deny
from requests_app.voting import AlreadyVoted, VoteRefused, request_vote
from tests.factories import (
    ApprovalFlowFactory,
    ApprovalLevelFactory,
    GroupFactory,
    PersonFactory,
    UserFactory,
    link_approval,
    make_request,
)

Status = AccessRequest.Status
APPROVE, DENY = RequestApproval.Vote.APPROVE, RequestApproval.Vote.DENY
DECISION_KINDS = {"approved", "denied", "auto_approved", "expired", "cancelled"}


@pytest.fixture
def people(db) -> dict[str, Any]:
    """Three level-1 approvers (one through a group), a backup, a level-2 approver, a stranger."""
    team = GroupFactory(name="Approvers")
    named = {name: PersonFactory(name=name) for name in ("Ava", "Bo", "Cy", "Dee", "Eli", "Fay")}
    team.members.add(named["Cy"])
    return {**named, "team": team}


@pytest.fixture
def two_of_three(people) -> Any:
    """2 of 3 approvals; Ava and Bo named and Cy through a group at level 1, Dee its backup."""
    flow = ApprovalFlowFactory(name="Two of three", min_approvals=2, channel_sms=False)
    first = ApprovalLevelFactory(flow=flow, position=1)
    first.people.add(people["Ava"], people["Bo"])
    first.groups.add(people["team"])
    first.backup_people.add(people["Dee"])
    second = ApprovalLevelFactory(flow=flow, position=2)
    second.people.add(people["Eli"])
    return flow


@pytest.fixture
def pending(requester, tools, two_of_three) -> AccessRequest:
    return make_request(requester=requester, tools=tools[:2], flow=two_of_three)


def vote(
    access_request: AccessRequest, person, choice: str = APPROVE, channel: str = Channel.EMAIL
):
    actor = Actor(name=person.name, channel=channel)
    return request_vote(access_request=access_request, person=person, vote=choice, actor=actor)


def decision_events(access_request: AccessRequest) -> list[RequestEvent]:
    return list(access_request.events.filter(kind__in=DECISION_KINDS))


def test_two_of_three_stays_pending_after_one_approval(pending, people):
    vote(pending, people["Ava"])

    pending.refresh_from_db()
    assert pending.status == Status.PENDING
    assert decision_events(pending) == []
    [partial] = pending.events.filter(kind=RequestEvent.Kind.VOTED)
    assert partial.message == "1 of 2 approvals"
    assert partial.actor_name == "Ava"
    assert partial.channel == Channel.EMAIL
    assert list(pending.votes.values_list("person__name", "vote", "channel")) == [
        ("Ava", APPROVE, Channel.EMAIL)
    ]


def test_two_of_three_is_approved_by_the_second_approval(pending, people):
    vote(pending, people["Ava"])
    vote(pending, people["Cy"], channel=Channel.SMS)

    pending.refresh_from_db()
    assert pending.status == Status.APPROVED
    assert pending.decided_by_name == "Cy"
    assert pending.decided_via == Channel.SMS
    [decision] = decision_events(pending)
    assert decision.kind == "approved"
    assert decision.actor_name == "Cy"
    assert set(pending.tools.values_list("status", flat=True)) == {"approved"}


def test_a_single_deny_denies_at_once_even_after_an_approval(pending, people):
    vote(pending, people["Ava"])
    vote(pending, people["Bo"], DENY, channel=Channel.WEB)

    pending.refresh_from_db()
    assert pending.status == Status.DENIED
    assert pending.decided_by_name == "Bo"
    assert [e.kind for e in decision_events(pending)] == ["denied"]


def test_a_first_deny_denies_without_any_approval(pending, people):
    vote(pending, people["Cy"], DENY)
    pending.refresh_from_db()
    assert pending.status == Status.DENIED


def test_one_approval_approves_when_the_flow_needs_one(requester, tools, flow, approver_user):
    access_request = make_request(requester=requester, tools=tools[:2], flow=flow)
    dana = approver_user.person
    request_vote(
        access_request=access_request,
        person=dana,
        vote=APPROVE,
        actor=Actor.for_user(approver_user),
        tool_ids=[tools[0].pk],
        duration=timedelta(hours=8),
        comment="ok for today",
    )
    access_request.refresh_from_db()
    assert access_request.status == Status.APPROVED
    assert access_request.comment == "ok for today"
    assert access_request.grant_expires_at == access_request.decided_at + timedelta(hours=8)
    assert dict(access_request.tools.values_list("tool_id", "status")) == {
        tools[0].pk: "approved",
        tools[1].pk: "denied",
    }


def test_a_backup_approver_may_vote(pending, people):
    vote(pending, people["Ava"])
    vote(pending, people["Dee"])
    pending.refresh_from_db()
    assert pending.status == Status.APPROVED
    assert pending.decided_by_name == "Dee"


def test_a_person_outside_the_flow_is_refused_and_nothing_is_recorded(pending, people):
    with pytest.raises(VoteRefused, match="not an approver"):
        vote(pending, people["Fay"])
    assert not pending.votes.exists()
    assert not pending.events.filter(kind=RequestEvent.Kind.VOTED).exists()


def test_a_higher_level_approver_may_vote_only_once_escalated(pending, people):
    with pytest.raises(VoteRefused):
        vote(pending, people["Eli"])
    AccessRequest.objects.filter(pk=pending.pk).update(current_level=2)
    pending.refresh_from_db()
    vote(pending, people["Eli"])
    assert pending.votes.get().person == people["Eli"]


def test_nobody_votes_on_their_own_request(two_of_three, people, tools):
    ava = people["Ava"]
    own = make_request(requester=ava, tools=tools[:1], flow=two_of_three)
    with pytest.raises(VoteRefused, match="own request"):
        vote(own, ava)
    assert not own.votes.exists()


def test_a_locked_approver_is_refused(pending, people):
    people["Bo"].status = "locked"
    people["Bo"].save()
    with pytest.raises(VoteRefused, match="locked"):
        vote(pending, people["Bo"])


def test_voting_twice_is_refused_and_the_first_vote_stands(pending, people):
    vote(pending, people["Ava"])
    with pytest.raises(AlreadyVoted, match="already voted"):
        vote(pending, people["Ava"], DENY)
    pending.refresh_from_db()
    assert pending.status == Status.PENDING
    assert list(pending.votes.values_list("vote", flat=True)) == [APPROVE]


def test_a_vote_on_a_decided_request_is_told_who_decided(pending, people, admin_user):
    request_deny(access_request=pending, actor=Actor.for_user(admin_user))
    with pytest.raises(RequestAlreadyDecided, match="Denied by"):
        vote(pending, people["Ava"])
    assert not pending.votes.exists()


def test_an_admin_decision_is_final_whatever_the_flow_needs(pending, admin_user):
    request_approve(access_request=pending, actor=Actor.for_user(admin_user))
    pending.refresh_from_db()
    assert pending.status == Status.APPROVED
    assert not pending.votes.exists()


def test_an_unknown_vote_is_a_programming_error(pending, people):
    with pytest.raises(ValueError, match="unknown vote"):
        vote(pending, people["Ava"], "maybe")


# --- the review panel --------------------------------------------------------------------


def panel_post(client, access_request: AccessRequest, action: str, **data):
    url = f"/requests/{access_request.public_id}/{action}/"
    return client.post(url, data, HTTP_HX_REQUEST="true")


@pytest.fixture
def ava_client(client, people):
    user = UserFactory(username="ava")
    people["Ava"].user = user
    people["Ava"].save()
    client.force_login(user)
    return client


def test_an_approver_approving_in_the_panel_casts_a_vote(ava_client, pending, tools):
    response = panel_post(ava_client, pending, "approve", tools=[t.pk for t in tools[:2]])
    assert response.status_code == 200
    pending.refresh_from_db()
    assert pending.status == Status.PENDING
    assert pending.votes.get().channel == Channel.WEB
    assert "1 of 2 approvals" in response.content.decode()


def test_an_approver_denying_in_the_panel_denies(ava_client, pending):
    panel_post(ava_client, pending, "deny")
    pending.refresh_from_db()
    assert pending.status == Status.DENIED
    assert pending.decided_by_name == "Ava"


def test_an_admin_approving_in_the_panel_decides_alone(admin_client, pending, tools):
    panel_post(admin_client, pending, "approve", tools=[t.pk for t in tools[:2]])
    pending.refresh_from_db()
    assert pending.status == Status.APPROVED
    assert not pending.votes.exists()


def test_an_approver_voting_twice_in_the_panel_is_told(ava_client, pending, tools):
    panel_post(ava_client, pending, "approve", tools=[t.pk for t in tools[:2]])
    response = panel_post(ava_client, pending, "approve", tools=[t.pk for t in tools[:2]])
    assert response.status_code == 200
    assert "already voted" in response.content.decode()
    assert pending.votes.count() == 1


# --- races -------------------------------------------------------------------------------


def race(pk: int, work: list[Callable[[AccessRequest], Any]]) -> list[tuple[str, Any]]:
    """Run each callable in its own thread on its own copy of the request, all at once."""
    barrier = threading.Barrier(len(work))
    results: list[tuple[str, Any]] = [("missing", None)] * len(work)

    def run(i: int) -> None:
        try:
            mine = AccessRequest.objects.get(pk=pk)
            barrier.wait(timeout=30)
            results[i] = ("ok", work[i](mine))
        except Exception as exc:
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_approvals_racing_to_reach_n_make_exactly_one_transition(pending, people):
    results = race(pending.pk, [lambda r: vote(r, people["Ava"]), lambda r: vote(r, people["Bo"])])

    assert [outcome for outcome, _ in results] == ["ok", "ok"], results
    pending.refresh_from_db()
    assert pending.status == Status.APPROVED
    assert len(decision_events(pending)) == 1
    assert pending.events.filter(kind=RequestEvent.Kind.VOTED).count() == 1
    assert pending.votes.count() == 2


@pytest.mark.django_db(transaction=True)
def test_approvals_racing_past_n_make_one_transition_and_the_late_vote_is_told(pending, people):
    vote(pending, people["Ava"])
    voters = [people["Bo"], people["Cy"], people["Dee"]]
    results = race(pending.pk, [lambda r, p=p: vote(r, p) for p in voters])

    errors = [value for outcome, value in results if outcome == "error"]
    assert len(errors) == 2, results
    assert all(isinstance(exc, RequestAlreadyDecided) for exc in errors)
    pending.refresh_from_db()
    assert pending.status == Status.APPROVED
    [decision] = decision_events(pending)
    assert decision.actor_name == pending.decided_by_name
    assert pending.votes.count() == 2


# --- links and SMS replies vote too --------------------------------------------------------


def test_a_link_decision_is_a_vote(pending, people):
    from requests_app.deciding import link_decide
    from requests_app.links import link_create, link_resolve

    token = link_create(access_request=pending, person=people["Ava"], channel=Channel.EMAIL)
    link_decide(link=link_resolve(token).link, approve=True)

    pending.refresh_from_db()
    assert pending.status == Status.PENDING
    assert pending.votes.get().channel == Channel.EMAIL
    assert link_resolve(token).problem == "used"


def test_the_link_page_says_how_far_the_approvals_got(client, pending, people):
    from requests_app.links import link_create

    token = link_create(access_request=pending, person=people["Bo"], channel=Channel.EMAIL)
    response = client.post(f"/a/{token}/", link_approval(pending))
    assert "Your approval is recorded: 1 of 2 approvals so far" in response.content.decode()


def test_an_sms_reply_is_a_vote_and_says_how_far_the_approvals_got(pending, people):
    from requests_app.notify import ensure_sms_code
    from requests_app.sms_replies import sms_reply

    people["Bo"].phone = "+15550177"
    people["Bo"].save()
    ensure_sms_code(pending)

    answer = sms_reply(phone="+15550177", body=f"A {pending.sms_code}")

    assert answer == "Vote recorded (1 of 2 approvals): Ana Lopez - Google Calendar"
    assert pending.votes.get().channel == Channel.SMS
    again = sms_reply(phone="+15550177", body=f"A {pending.sms_code}")
    assert again == "agenwork: You have already voted on this request. Nothing was changed."
