"""factory_boy factories for the models of every app."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

from approval_flows.models import ApprovalFlow, ApprovalLevel
from connectors.models import Connector, Tool
from directory.models import Group, Person
from policies.models import Policy
from requests_app.services import request_create


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("correct-horse-battery")


class PersonFactory(DjangoModelFactory):
    class Meta:
        model = Person

    name = factory.Sequence(lambda n: f"Person {n}")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    phone = ""


class GroupFactory(DjangoModelFactory):
    class Meta:
        model = Group
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Group {n}")


class ConnectorFactory(DjangoModelFactory):
    class Meta:
        model = Connector
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"connector-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    icon = factory.LazyAttribute(lambda o: o.slug)
    status = Connector.Status.CONNECTED


class ToolFactory(DjangoModelFactory):
    class Meta:
        model = Tool

    connector = factory.SubFactory(ConnectorFactory)
    key = factory.Sequence(lambda n: f"tool_{n}_list")
    access = Tool.Access.READ


class ApprovalFlowFactory(DjangoModelFactory):
    class Meta:
        model = ApprovalFlow

    name = factory.Sequence(lambda n: f"Flow {n}")
    channel_email = True
    channel_sms = False
    reminder_after = timedelta(hours=1)
    # Like the demo's Sales approvals; a flow made without these has no timeout.
    timeout_after = timedelta(hours=24)
    timeout_action = ApprovalFlow.TimeoutAction.AUTO_APPROVE


class ApprovalLevelFactory(DjangoModelFactory):
    class Meta:
        model = ApprovalLevel

    flow = factory.SubFactory(ApprovalFlowFactory)
    position = 1


class PolicyFactory(DjangoModelFactory):
    class Meta:
        model = Policy

    name = factory.Sequence(lambda n: f"Policy {n}")
    connector = factory.SubFactory(ConnectorFactory)
    action = Policy.Action.ALLOW
    all_users = True


def make_request(*, requester: Person, tools: list[Tool], flow: ApprovalFlow | None, **kwargs):
    """A pending request through the real service, as the gateway would create it."""
    return request_create(
        requester=requester,
        connector=tools[0].connector,
        tools=tools,
        policy=kwargs.pop("policy", None),
        flow=flow,
        **kwargs,
    )


def link_approval(access_request, **fields) -> dict:
    """What the approver link page posts for Approve as first shown: every tool, this call only."""
    tool_ids = [str(tool_id) for tool_id in access_request.tools.values_list("tool_id", flat=True)]
    return {"decision": "approve", "tools": tool_ids, "duration": "once", **fields}
