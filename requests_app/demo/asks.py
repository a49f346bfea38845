"""What a generated request asks for: its tools, its note and its arguments, from one template.

- A template names the tools it needs, a note and the arguments a gateway would forward for
  them, both filled from the same customer, repository or channel, so the note never speaks of
  one meeting while the arguments book another.
- A meeting's date is the next such weekday after the request was made, at the template's hour
  (UTC), so the weekday the note names is the one the arguments carry.
- One tool's arguments are its own object; several tools' are keyed by tool, as Ana's requests
  in `scenario.HANDWRITTEN` are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from requests_app.demo.names import CHANNELS, CUSTOMERS, REPOS

Arguments = Callable[["Fill", datetime | None], dict[str, Any]]
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ORG = "example-org"


@dataclass(frozen=True, slots=True)
class Fill:
    """The names one request is about."""

    customer: str
    repo: str
    channel: str

    @property
    def domain(self) -> str:
        return "".join(ch for ch in self.customer.lower() if ch.isalnum()) + ".example"


@dataclass(frozen=True, slots=True)
class Slot:
    """When the meeting in a calendar template takes place: weekday (Monday = 0), hour, length."""

    weekday: int
    hour: int
    minutes: int

    def start_after(self, moment: datetime) -> datetime:
        """The first such weekday after the day of `moment`, at the slot's hour."""
        days = (self.weekday - moment.weekday() - 1) % 7 + 1
        day = moment.replace(hour=self.hour, minute=0, second=0, microsecond=0)
        return day + timedelta(days=days)


@dataclass(frozen=True, slots=True)
class Template:
    """A kind of request: its tools, its note and the arguments that go with it."""

    tools: tuple[str, ...]
    note: str
    arguments: Arguments
    slot: Slot | None = None

    def render_note(self, fill: Fill) -> str:
        day = DAYS[self.slot.weekday] if self.slot else ""
        return self.note.format(
            customer=fill.customer, repo=fill.repo, channel=fill.channel, day=day
        )


@dataclass(frozen=True, slots=True)
class Ask:
    """One template with its names filled in: what a generated request copies."""

    template: Template
    fill: Fill
    note: str

    def arguments_json(self, requested_at: datetime) -> str:
        """The arguments as JSON text, the meeting placed after `requested_at`."""
        start = self.template.slot.start_after(requested_at) if self.template.slot else None
        value = self.template.arguments(self.fill, start)
        if len(self.template.tools) == 1:
            value = value[self.template.tools[0]]
        return json.dumps(value, ensure_ascii=False)


def _iso(moment: datetime) -> str:
    return moment.isoformat() + "Z"  # naive UTC, as the generator keeps its times


def _event(summary: str, start: datetime, minutes: int, guests: list[str]) -> dict[str, Any]:
    return {
        "calendarId": "primary",
        "summary": summary,
        "start": {"dateTime": _iso(start)},
        "end": {"dateTime": _iso(start + timedelta(minutes=minutes))},
        "attendees": [{"email": guest} for guest in guests],
    }


def _move(event_id: str, start: datetime, minutes: int) -> dict[str, Any]:
    return {
        "calendarId": "primary",
        "eventId": event_id,
        "start": {"dateTime": _iso(start)},
        "end": {"dateTime": _iso(start + timedelta(minutes=minutes))},
    }


CREATE, UPDATE = "google-calendar_events_create", "google-calendar_events_update"
LIST_REPOS, NEW_ISSUE = "github_repos_list", "github_issues_create"
POST, REMOVE = "slack_messages_send", "slack_messages_delete"


def _qbr(f: Fill, start: Any) -> dict[str, Any]:
    summary = f"{f.customer} quarterly business review"
    return {CREATE: _event(summary, start, 60, [f"cfo@{f.domain}"])}


def _demo(f: Fill, start: Any) -> dict[str, Any]:
    return {CREATE: _event(f"{f.customer} product demo", start, 30, [f"it-lead@{f.domain}"])}


def _kickoff(f: Fill, start: Any) -> dict[str, Any]:
    return {CREATE: _event(f"{f.customer} onboarding kickoff", start, 45, [f"ops@{f.domain}"])}


def _renewal(f: Fill, start: Any) -> dict[str, Any]:
    return {UPDATE: _move(f"{f.domain.split('.')[0]}-renewal-call", start, 30)}


def _travel(f: Fill, start: Any) -> dict[str, Any]:
    return {UPDATE: _move(f"{f.domain.split('.')[0]}-onsite-visit", start, 180)}


def _kickoff_and_prep(f: Fill, start: Any) -> dict[str, Any]:
    prep = start - timedelta(days=1)
    return {
        CREATE: _event(f"{f.customer} kickoff", start, 60, [f"ops@{f.domain}"]),
        UPDATE: _move(f"{f.domain.split('.')[0]}-kickoff-prep", prep, 30),
    }


def _issue(title: str, body: str) -> Arguments:
    def build(f: Fill, _start: Any) -> dict[str, Any]:
        text = {"customer": f.customer, "repo": f.repo}
        return {
            NEW_ISSUE: {
                "owner": ORG,
                "repo": f.repo,
                "title": title.format(**text),
                "body": body.format(**text),
            }
        }

    return build


def _find_repos(f: Fill, _start: Any) -> dict[str, Any]:
    return {LIST_REPOS: {"org": ORG, "q": f.customer}}


def _find_and_file(f: Fill, start: Any) -> dict[str, Any]:
    issue = _issue("{customer}: sync failures", "{customer} reports failed syncs in {repo}.")
    return {**_find_repos(f, start), **issue(f, start)}


def _post(text: str) -> Arguments:
    def build(f: Fill, _start: Any) -> dict[str, Any]:
        return {POST: {"channel": f.channel, "text": text.format(repo=f.repo)}}

    return build


def _remove(f: Fill, _start: Any) -> dict[str, Any]:
    # A message id as Slack writes it, the same for the same channel.
    stamp = 1_700_000_000 + sum(map(ord, f.channel)) * 997
    return {REMOVE: {"channel": f.channel, "ts": f"{stamp}.000200"}}


def _replace(f: Fill, start: Any) -> dict[str, Any]:
    corrected = _post("Corrected: the {repo} release is tomorrow, not today.")
    return {**_remove(f, start), **corrected(f, start)}


TEMPLATES: dict[str, tuple[Template, ...]] = {
    "google-calendar": (
        Template((CREATE,), "Book the quarterly business review with {customer} next {day}.",
                 _qbr, Slot(1, 15, 60)),
        Template((CREATE,), "Schedule a 30-minute product demo for {customer} on {day} and "
                 "invite their IT lead.", _demo, Slot(3, 16, 30)),
        Template((CREATE,), "Find a slot on {day} morning for the {customer} onboarding "
                 "kickoff.", _kickoff, Slot(2, 9, 45)),
        Template((UPDATE,), "Move the {customer} renewal call to {day} afternoon.",
                 _renewal, Slot(3, 14, 30)),
        Template((UPDATE,), "Stretch the on-site visit at {customer} on {day} to three hours "
                 "so there is travel time.", _travel, Slot(4, 9, 180)),
        Template((CREATE, UPDATE), "Book the {customer} kickoff for {day} and move our internal "
                 "prep meeting to the day before.", _kickoff_and_prep, Slot(1, 15, 60)),
    ),
    "github": (
        Template((NEW_ISSUE,), "Open an issue in {repo} for the bug {customer} reported on "
                 "the demo call.", _issue("Bug reported by {customer}",
                                          "{customer} hit this during the demo of {repo}.")),
        Template((NEW_ISSUE,), "File {customer}'s feature request in {repo}.",
                 _issue("Feature request from {customer}", "Requested by {customer}.")),
        Template((LIST_REPOS,), "Find the repositories that mention {customer} so I can link "
                 "them in the account plan.", _find_repos),
        Template((LIST_REPOS, NEW_ISSUE), "Find the repository of the {customer} integration "
                 "and open an issue in {repo} about their sync failures.", _find_and_file),
    ),
    "slack": (
        Template((POST,), "Post the {repo} release notes to {channel}.",
                 _post("Release notes for {repo} are out.")),
        Template((POST,), "Tell {channel} that the {repo} deploy is done.",
                 _post("The {repo} deploy is done.")),
        Template((REMOVE,), "Delete the message I posted to {channel} by mistake.", _remove),
        Template((REMOVE, POST), "Replace my wrong message about {repo} in {channel} with a "
                 "corrected one.", _replace),
    ),
}  # fmt: skip


def asks_for(slug: str, tool_keys: frozenset[str]) -> list[Ask]:
    """Every ask of the connector's templates whose tools are all among `tool_keys`."""
    asks = []
    fills = [
        Fill(customer, repo, channel)
        for customer, repo, channel in zip(CUSTOMERS, REPOS * 2, CHANNELS * 3, strict=False)
    ]
    for template in TEMPLATES.get(slug, ()):
        if set(template.tools) <= tool_keys:
            asks.extend(Ask(template, fill, template.render_note(fill)) for fill in fills)
    return asks
