"""The canonical demo scenario of DESIGN.md §9, written by natural key so it can run again.

- Connectors by slug, tools by (connector, key), groups by name, people by email, the flow by
  name, policies by (name, connector), logins by username: each is created or brought back to
  its canonical values.
- Passwords are set only when a login is created, never reset on a later run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from approval_flows.models import ApprovalFlow, ApprovalLevel
from connectors.models import Connector, Tool
from directory.models import Group, Person
from policies.models import Policy
from policies.services import PolicyData, policy_validate
from requests_app.demo.mcp_connectors import MCP_CONNECTORS, REPO_CHANGES, REPO_DENIED, REPO_READS
from requests_app.models import AccessRequest
from requests_app.services import dedupe_key_for, request_create

DEMO_PASSWORD = "agenwork-demo"  # noqa: S105 - the documented demo login, never a real secret
R, W, D = Tool.Access.READ, Tool.Access.WRITE, Tool.Access.DELETE

CONNECTORS: tuple[tuple[str, str, str, tuple[tuple[str, str, str], ...]], ...] = (
    ("google-calendar", "Google Calendar", Connector.Status.CONNECTED, (
        ("google-calendar_events_list", R, "List the events of a calendar."),
        ("google-calendar_events_get", R, "Read one event."),
        ("google-calendar_events_create", W, "Create an event and invite attendees."),
        ("google-calendar_events_update", W, "Change an event's time, title or attendees."),
        ("google-calendar_events_delete", D, "Delete an event."),
    )),
    ("github", "GitHub", Connector.Status.CONNECTED, (
        ("github_repos_list", R, "List the repositories the user can see."),
        ("github_issues_create", W, "Open an issue in a repository."),
        ("github_repos_delete", D, "Delete a repository."),
    )),
    ("slack", "Slack", Connector.Status.DISCONNECTED, (
        ("slack_channels_list", R, "List the channels the user belongs to."),
        ("slack_messages_send", W, "Post a message to a channel."),
        ("slack_messages_delete", D, "Delete one of the user's messages."),
    )),
)  # fmt: skip

GROUPS = (
    ("Sales", "Account executives and sales engineers."),
    ("Engineering", "Everyone who ships code."),
    ("Security", "Approves what agents may change."),
)

# (name, email, group, phone, status, mfa)
PEOPLE = (
    ("Ana Lopez", "ana@example.com", "Sales", "", Person.Status.ACTIVE, True),
    ("Ben Kim", "ben@example.com", "Engineering", "", Person.Status.ACTIVE, True),
    ("Dana Levi", "dana@example.com", "Security", "+15550100", Person.Status.ACTIVE, True),
    ("Lee Park", "lee@example.com", "Sales", "", Person.Status.LOCKED, False),
)

FLOW_NAME = "Sales approvals"
ENGINEERING_FLOW = "Engineering approvals"
# Both flows are approved by the Security group; timing differs, so the demo shows both outcomes.
FLOWS: dict[str, dict[str, Any]] = {
    FLOW_NAME: {
        "description": "Security approves the calendar changes that Sales agents ask for.",
        "channel_email": True,
        "channel_sms": True,
        "min_approvals": 1,
        "reminder_after": timedelta(hours=1),
        "reminder_repeat": None,
        "escalate_after": None,
        "timeout_after": timedelta(hours=24),
        "timeout_action": ApprovalFlow.TimeoutAction.AUTO_APPROVE,
        "notify_requester": True,
        "enabled": True,
    },
    ENGINEERING_FLOW: {
        "description": "Security approves Engineering's Slack posts, commits to the demo "
        "repository and Sales' GitHub issues.",
        "channel_email": True,
        "channel_sms": False,
        "min_approvals": 1,
        "reminder_after": timedelta(hours=2),
        "reminder_repeat": None,
        "escalate_after": None,
        "timeout_after": timedelta(hours=48),
        "timeout_action": ApprovalFlow.TimeoutAction.EXPIRE,
        "notify_requester": True,
        "enabled": True,
    },
}

APPROVAL_POLICY = "Sales calendar changes need approval"
# (name, description, connector, tool keys (none = all), all users, groups, action, flow name)
POLICIES = (
    ("Everyone may read calendars",
     "Agents may list and read calendar events for any user.",
     "google-calendar", ("google-calendar_events_list", "google-calendar_events_get"),
     True, (), Policy.Action.ALLOW, None),
    (APPROVAL_POLICY,
     "Sales agents may create or move events once a Security approver agrees.",
     "google-calendar", ("google-calendar_events_create", "google-calendar_events_update"),
     False, ("Sales",), Policy.Action.APPROVAL, FLOW_NAME),
    ("No agent deletes calendar events",
     "Deleting events is left to people: agents are always refused.",
     "google-calendar", ("google-calendar_events_delete",),
     True, (), Policy.Action.DENY, None),
    ("Engineering uses GitHub",
     "Engineers' agents may use every GitHub tool.",
     "github", (), False, ("Engineering",), Policy.Action.ALLOW, None),
    ("Step up to delete a repository",
     "Deleting a repository needs a fresh strong sign-in by the engineer.",
     "github", ("github_repos_delete",), False, ("Engineering",), Policy.Action.STEP_UP, None),
    ("Sales files GitHub issues with approval",
     "Sales agents may list repositories and open issues once a Security approver agrees.",
     "github", ("github_repos_list", "github_issues_create"),
     False, ("Sales",), Policy.Action.APPROVAL, ENGINEERING_FLOW),
    ("Everyone may list Slack channels",
     "Agents may list the Slack channels their user belongs to.",
     "slack", ("slack_channels_list",), True, (), Policy.Action.ALLOW, None),
    ("Engineering posts to Slack with approval",
     "Engineers' agents may post or delete Slack messages once a Security approver agrees.",
     "slack", ("slack_messages_send", "slack_messages_delete"),
     False, ("Engineering",), Policy.Action.APPROVAL, ENGINEERING_FLOW),
    # The connectors backed by real MCP servers (mcp_connectors.py).
    ("Everyone may ask the time",
     "Agents may read the current time and convert it between timezones.",
     "time", (), True, (), Policy.Action.ALLOW, None),
    ("Engineering reads the demo repository",
     "Engineers' agents may read the demo repository: status, diffs, log, commits, branches.",
     "repo", REPO_READS, False, ("Engineering",), Policy.Action.ALLOW, None),
    ("Engineering changes the demo repository with approval",
     "Engineers' agents may stage, commit and branch once a Security approver agrees.",
     "repo", REPO_CHANGES, False, ("Engineering",), Policy.Action.APPROVAL, ENGINEERING_FLOW),
    ("No agent resets or checks out the demo repository",
     "Resetting the index and switching branches are left to people: agents are refused.",
     "repo", REPO_DENIED, True, (), Policy.Action.DENY, None),
)  # fmt: skip


@dataclass
class Scenario:
    """The canonical objects, by natural key, for the steps that build on them."""

    connectors: dict[str, Connector]
    tools: dict[str, Tool]
    groups: dict[str, Group]
    people: dict[str, Person]
    flows: dict[str, ApprovalFlow]
    policies: dict[str, Policy]

    @property
    def flow(self) -> ApprovalFlow:
        """ "Sales approvals", the flow of Ana's calendar requests."""
        return self.flows[FLOW_NAME]

    @property
    def approval_policy(self) -> Policy:
        """The Request approval policy that routes Ana's calendar requests."""
        return self.policies[APPROVAL_POLICY]


@dataclass(frozen=True)
class Login:
    """A console login of the demo and whether this run created it."""

    username: str
    role: str
    created: bool
    user: Any


@transaction.atomic
def seed_scenario() -> Scenario:
    """Create or restore every canonical object of the scenario."""
    connectors, tools = _seed_connectors()
    groups = {
        name: Group.objects.update_or_create(name=name, defaults={"description": about})[0]
        for name, about in GROUPS
    }
    people = _seed_people(groups)
    flows = {name: _seed_flow(name, groups["Security"]) for name in FLOWS}
    policies = _seed_policies(connectors, tools, groups, flows)
    return Scenario(connectors, tools, groups, people, flows, policies)


def _seed_connectors() -> tuple[dict[str, Connector], dict[str, Tool]]:
    connectors: dict[str, Connector] = {}
    tools: dict[str, Tool] = {}
    for slug, name, status, tool_specs in CONNECTORS:
        connectors[slug] = connector = _upsert_connector(slug, name, status=status)
        for key, access, description in tool_specs:
            tools[key] = _upsert_tool(connector, key, access, description, restore=True)
    for slug, name, tool_specs in MCP_CONNECTORS:
        # The upstream owns the state, descriptions and schemas: set when created, then synced.
        connectors[slug] = connector = _upsert_connector(slug, name)
        for key, access, description in tool_specs:
            tools[key] = _upsert_tool(connector, key, access, description, restore=False)
    return connectors, tools


def _upsert_connector(slug: str, name: str, *, status: str | None = None) -> Connector:
    values = {"name": name, "icon": slug, "enabled": True}
    if status is not None:
        values["status"] = status
    return Connector.objects.update_or_create(slug=slug, defaults=values)[0]


def _upsert_tool(
    connector: Connector, key: str, access: str, description: str, *, restore: bool
) -> Tool:
    """The tool, enabled; its description brought back too when `restore`.

    - An access kind an admin chose by hand survives a second seed, as with the catalog.
    """
    defaults: dict[str, Any] = {"enabled": True}
    if restore:
        defaults["description"] = description
    tool, _ = Tool.objects.update_or_create(
        connector=connector,
        key=key,
        defaults=defaults,
        create_defaults={"access": access, "description": description, "enabled": True},
    )
    if tool.access != access and not tool.access_overridden:
        tool.access = access
        tool.save(update_fields=["access"])
    return tool


def _seed_people(groups: dict[str, Group]) -> dict[str, Person]:
    people: dict[str, Person] = {}
    for name, email, group, phone, status, mfa in PEOPLE:
        person, _ = Person.objects.update_or_create(
            email=email,
            defaults={"name": name, "phone": phone, "status": status, "mfa_enabled": mfa},
        )
        person.groups.set([groups[group]])
        people[email] = person
    return people


def _seed_flow(name: str, approvers: Group) -> ApprovalFlow:
    flow, _ = ApprovalFlow.objects.update_or_create(name=name, defaults=FLOWS[name])
    level, _ = ApprovalLevel.objects.get_or_create(flow=flow, position=1)
    level.groups.set([approvers])
    level.people.clear()
    return flow


def _seed_policies(
    connectors: dict[str, Connector],
    tools: dict[str, Tool],
    groups: dict[str, Group],
    flows: dict[str, ApprovalFlow],
) -> dict[str, Policy]:
    policies: dict[str, Policy] = {}
    for name, about, slug, keys, all_users, group_names, action, flow_name in POLICIES:
        data = PolicyData(
            name=name,
            description=about,
            connector=connectors[slug],
            action=action,
            tools=[tools[key] for key in keys],
            all_users=all_users,
            groups=[groups[g] for g in group_names],
            approval_flow=flows[flow_name] if flow_name else None,
        )
        policies[name] = _upsert_policy(data)
    return policies


def _upsert_policy(data: PolicyData) -> Policy:
    policy_validate(data)
    policy, _ = Policy.objects.update_or_create(
        name=data.name,
        connector=data.connector,
        defaults={
            "description": data.description,
            "all_users": data.all_users,
            "action": data.action,
            "approval_flow": data.approval_flow,
            "enabled": data.enabled,
        },
    )
    policy.tools.set(data.tools)
    policy.users.set(data.users)
    policy.groups.set(data.groups)
    return policy


@transaction.atomic
def seed_logins(scenario: Scenario) -> list[Login]:
    """The demo admin and Dana's approver login, linked to her person."""
    admin = _ensure_login("admin", "admin@example.com", staff=True, first="Demo", last="Admin")
    dana = scenario.people["dana@example.com"]
    approver = _ensure_login("dana", dana.email, staff=False, first="Dana", last="Levi")
    if dana.user_id != approver.user.pk:
        Person.objects.filter(user=approver.user).update(user=None)
        dana.user = approver.user
        dana.save(update_fields=["user", "updated_at"])
    return [admin, approver]


def _ensure_login(username: str, email: str, *, staff: bool, first: str, last: str) -> Login:
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={
            "email": email,
            "first_name": first,
            "last_name": last,
            "is_staff": staff,
            "is_superuser": staff,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    role = "admin" if staff else "approver"
    return Login(username=username, role=role, created=created, user=user)


def _next_weekday(weekday: int, hour: int) -> datetime:
    """The next such weekday (Monday = 0) after today, at that hour UTC."""
    today = timezone.now().replace(minute=0, second=0, microsecond=0)
    days = (weekday - today.weekday() - 1) % 7 + 1
    return (today + timedelta(days=days)).replace(hour=hour)


def _event(summary: str, start: datetime, minutes: int, guest: str) -> dict[str, Any]:
    """Arguments of google-calendar_events_create as a gateway would forward them."""
    return {
        "calendarId": "primary",
        "summary": summary,
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(minutes=minutes)).isoformat()},
        "attendees": [{"email": guest}, {"email": "ana@example.com"}],
    }


def _move(event_id: str, start: datetime, minutes: int) -> dict[str, Any]:
    """Arguments of google-calendar_events_update moving an event."""
    return {
        "calendarId": "primary",
        "eventId": event_id,
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(minutes=minutes)).isoformat()},
    }


def _qbr_arguments() -> dict[str, Any]:
    return {
        "google-calendar_events_create": _event(
            "Acme QBR", _next_weekday(1, 15), 60, "jordan@acme.example"
        ),
        "google-calendar_events_update": _move("qbr-prep-acme", _next_weekday(0, 19), 45),
    }


# Ana's pending requests: (tool keys, agent, note, arguments builder).
HANDWRITTEN: tuple[tuple[tuple[str, ...], str, str, Callable[[], dict[str, Any]]], ...] = (
    (
        ("google-calendar_events_create", "google-calendar_events_update"),
        "Claude",
        "Book the Acme quarterly business review for Tuesday and move our internal prep "
        "meeting to Monday afternoon so the deck is ready in time.",
        _qbr_arguments,
    ),
    (
        ("google-calendar_events_create",),
        "ChatGPT",
        "Schedule a 30-minute product demo with Globex's IT lead on Thursday; they asked for "
        "an afternoon slot.",
        lambda: _event("Globex product demo", _next_weekday(3, 18), 30, "it-lead@globex.example"),
    ),
    (
        ("google-calendar_events_update",),
        "Copilot",
        "Move the weekly pipeline review from Friday to Thursday 16:00 so the whole team can "
        "join before the holiday.",
        lambda: _move("pipeline-review-weekly", _next_weekday(3, 16), 60),
    ),
)


def seed_handwritten_requests(scenario: Scenario) -> int:
    """Ana's pending calendar requests, through request_create; returns how many were added.

    - A request is known by its requester and note, so a later run (on another day, with other
      dates in the arguments) adds nothing.
    """
    ana = scenario.people["ana@example.com"]
    added = 0
    for keys, agent, note, build_arguments in HANDWRITTEN:
        if AccessRequest.objects.filter(requester=ana, note=note).exists():
            continue
        tools = [scenario.tools[key] for key in keys]
        _request_for(scenario, ana, tools, agent, note, build_arguments())
        added += 1
    return added


def _request_for(
    scenario: Scenario, person: Person, tools: list[Tool], agent: str, note: str, arguments: Any
) -> None:
    """A pending request as the gateway's call would have created it."""
    connector = scenario.connectors["google-calendar"]
    request_create(
        requester=person,
        connector=connector,
        tools=tools,
        policy=scenario.approval_policy,
        flow=scenario.flow,
        note=note,
        agent=agent,
        arguments=arguments,
        dedupe_key=dedupe_key_for(
            requester_id=person.pk,
            connector_id=connector.pk,
            tool_ids=[tool.pk for tool in tools],
            arguments=arguments,
        ),
    )
