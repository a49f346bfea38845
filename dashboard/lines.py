"""One trail entry as a person reads it: who, what, which object, before → after, when, how.

The same `Line` feeds the HTML table (`dashboard.tables`) and the CSV export.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.urls import NoReverseMatch, reverse

from audit.models import AuditEntry
from dashboard.activity import CHANGE, DECISION, Entry
from dashboard.activity_kinds import DECISION_CHOICES, KIND_CHOICES, OBJECT_TYPES
from dashboard.figures import duration_text
from policies.models import DecisionLog
from requests_app.models import RequestEvent

MISSING = object()
KIND_LABELS = dict(KIND_CHOICES)
OBJECT_LABELS = dict(OBJECT_TYPES)
DECISION_LABELS = dict(DECISION_CHOICES)
# Objects with a page of their own: object_type → URL name (an int id).
OBJECT_URLS = {
    "api_key": "gateways:detail",
    "policy": "policies:detail",
    "approval_flow": "approval_flows:detail",
}
# Request events that move the status, with the status they move to.
STATUS_AFTER = {
    RequestEvent.Kind.CREATED: "pending",
    RequestEvent.Kind.APPROVED: "approved",
    RequestEvent.Kind.DENIED: "denied",
    RequestEvent.Kind.AUTO_APPROVED: "auto_approved",
    RequestEvent.Kind.EXPIRED: "expired",
    RequestEvent.Kind.CANCELLED: "cancelled",
}


@dataclass
class Line:
    """What every column and CSV field shows for one entry."""

    kind: str
    at: datetime
    who: str
    channel: str
    action: str
    object_type: str
    object_id: str
    object_label: str
    object_url: str = ""
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    detail: str = ""
    decision: str = ""
    pk: int = 0

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def object_type_label(self) -> str:
        return OBJECT_LABELS.get(self.object_type, self.object_type.replace("_", " ").capitalize())

    @property
    def change_text(self) -> str:
        """ "key: old → new; …" for the CSV."""
        return "; ".join(
            f"{key}: {short_value(old)} → {short_value(new)}" for key, old, new in self.changes
        )


def line_for(entry: Entry) -> Line:
    """The Line of one entry, by its source."""
    if entry.source == DECISION:
        return _decision_line(entry.record)
    if entry.source == CHANGE:
        return _change_line(entry.record)
    return _event_line(entry.record)


def _event_line(event: RequestEvent) -> Line:
    req = event.request
    tools = req.first_tool_key + (f" +{req.tool_count - 1}" if req.tool_count > 1 else "")
    after = STATUS_AFTER.get(event.kind)
    before = MISSING if event.kind == RequestEvent.Kind.CREATED else "pending"
    detail = event.message
    if event.response_ms is not None:
        detail += f" · decided {duration_text(event.response_ms)} after opening"
    return Line(
        kind="request",
        at=event.created_at,
        who=event.actor_name,
        channel=event.channel,
        action=event.get_kind_display(),
        object_type="request",
        object_id=str(req.public_id),
        object_label=f"{req.requester_name} → {req.connector_name} ({tools})",
        object_url=reverse("requests_app:detail", args=[req.public_id]),
        changes=[("status", before, after)] if after else [],
        detail=detail,
        pk=event.pk,
    )


def _decision_line(log: DecisionLog) -> Line:
    tools = log.tools if isinstance(log.tools, list) else []
    url = ""
    if log.request_public_id:
        url = reverse("requests_app:detail", args=[log.request_public_id])
    via = f" · key {log.api_key_name}" if log.api_key_name else ""
    agent = f" · agent {log.agent}" if log.agent else ""
    return Line(
        kind="decision",
        at=log.created_at,
        who=log.user_ref,
        channel="api",
        action=f"Decided {DECISION_LABELS.get(log.decision, log.decision)}",
        object_type="connector",
        object_id=log.connector_slug,
        object_label=f"{log.connector_slug}: {', '.join(map(str, tools)) or '—'}",
        object_url=url,
        detail=f"{log.reason_code}{via}{agent}",
        decision=log.decision,
        pk=log.pk,
    )


def _change_line(entry: AuditEntry) -> Line:
    url = ""
    url_name = OBJECT_URLS.get(entry.object_type)
    digits = entry.object_id.isascii() and entry.object_id.isdecimal()
    if url_name and digits and entry.action != AuditEntry.Action.DELETED:
        try:
            url = reverse(url_name, args=[entry.object_id])
        except NoReverseMatch:
            url = ""
    return Line(
        kind="change",
        at=entry.created_at,
        who=entry.actor_name,
        channel=entry.channel,
        action=entry.get_action_display(),
        object_type=entry.object_type,
        object_id=entry.object_id,
        object_label=entry.object_repr or entry.object_id,
        object_url=url,
        changes=changed_fields(entry.before, entry.after),
        pk=entry.pk,
    )


def _as_dict(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return value if isinstance(value, dict) else {"value": value}


def changed_fields(before: Any, after: Any) -> list[tuple[str, Any, Any]]:
    """(key, old, new) for each key whose value differs, in order; MISSING where a side lacks it."""
    old, new = _as_dict(before), _as_dict(after)
    keys = dict.fromkeys([*old, *new])
    return [
        (key, old.get(key, MISSING), new.get(key, MISSING))
        for key in keys
        if old.get(key, MISSING) != new.get(key, MISSING)
    ]


def short_value(value: Any) -> str:
    """A JSON value as a person reads it: yes/no, lists joined, nothing shown as "—"."""
    if value is MISSING or value is None:
        text = "—"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, list):
        text = ", ".join(short_value(item) for item in value) or "none"
    elif isinstance(value, dict):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    else:
        text = str(value) if value != "" else "(empty)"
    return text
