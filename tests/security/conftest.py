"""Fixtures of the security suite: one small world with every kind of object a URL can name.

- The five console roles: anonymous, outsider, approver (Dana, approves the request's flow),
  other approver (Eli, approves only another flow), admin.
- The World (tests/security/world.py) holds one object of each kind a URL can name, and the
  credentials that are not sessions: gateway API keys and SCIM tokens, valid and revoked, and
  the requester's personal gateway token.
- Single sign-on is configured, against the tests' identity provider (oidc-provider in Node).
"""

from __future__ import annotations

import pytest
from django.test import Client

from approval_flows.models import ApprovalFlow
from directory.services import scim_token_create
from directory.step_up import step_up_challenge_create
from gateways.services import api_key_create
from mcp_gateway.tokens import gateway_token_create
from requests_app.links import link_create
from tests.factories import (
    ApprovalFlowFactory,
    ApprovalLevelFactory,
    GroupFactory,
    PersonFactory,
    PolicyFactory,
    UserFactory,
    make_request,
)
from tests.security.world import World


@pytest.fixture
def other_approver_user(requester, tools):
    """Eli approves the Finance flow only: Dana's requests are not his to see."""
    user = UserFactory(username="eli")
    person = PersonFactory(name="Eli Cohen", email="eli@example.com", user=user)
    finance = GroupFactory(name="Finance")
    person.groups.add(finance)
    flow = ApprovalFlowFactory(name="Finance approvals")
    ApprovalLevelFactory(flow=flow, position=1).groups.add(finance)
    return user


@pytest.fixture
def world(
    access_request,
    approver_user,
    outsider_user,
    admin_user,
    other_approver_user,
    requester,
    tools,
    security_group,
    single_sign_on,
) -> World:
    finance = ApprovalFlow.objects.get(name="Finance approvals")
    issued = api_key_create(name="security gateway")
    revoked = api_key_create(name="revoked gateway")
    revoked.api_key.revoked_at = revoked.api_key.created_at
    revoked.api_key.save(update_fields=["revoked_at"])
    scim = scim_token_create(name="security identity provider")
    revoked_scim = scim_token_create(name="revoked identity provider")
    revoked_scim.token.revoked_at = revoked_scim.token.created_at
    revoked_scim.token.save(update_fields=["revoked_at"])
    return World(
        access_request=access_request,
        other_request=make_request(requester=requester, tools=tools[2:], flow=finance),
        api_request=make_request(
            requester=requester, tools=tools[:1], flow=access_request.flow, api_key=issued.api_key
        ),
        policy=PolicyFactory(connector=tools[0].connector),
        flow=access_request.flow,
        issued=issued,
        revoked=revoked,
        token=link_create(
            access_request=access_request, person=approver_user.person, channel="email"
        ),
        connector=tools[0].connector,
        tool=tools[0],
        person=requester,
        group=security_group,
        scim=scim,
        revoked_scim=revoked_scim,
        gateway_token=gateway_token_create(person=requester),
        step_up=step_up_challenge_create(
            person_id=outsider_user.person.pk, tool_key=tools[0].key, agent="security agent"
        ),
    )


@pytest.fixture
def role_client(request, world) -> Client:
    """The client of the role named by the test's `role` parameter (logged in unless anonymous)."""
    return client_for(request.param, request)


def client_for(role: str, request, **client_kwargs) -> Client:
    client = Client(**client_kwargs)
    if role != "anonymous":
        user = request.getfixturevalue(f"{role}_user")
        client.force_login(user)
    return client
