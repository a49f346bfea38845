"""Every write to an approval flow: create, update (enable, disable) and delete, all audited."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from approval_flows.models import ApprovalFlow, ApprovalLevel
from approval_flows.selectors import FlowUsage, flow_usage, reachable_approver_count
from audit.models import AuditEntry
from audit.services import audit_record
from directory.models import Group, Person

MAX_LEVELS = 5
MAX_DURATION = timedelta(days=365)
MAX_REMINDERS = 20
MAX_APPROVALS = 100
SECTIONS = ("general", "channels", "approvers", "timing")
NAME_TAKEN = "Another flow already has this name."
# What a timeout outcome other than Expire says when it has no time (no timeout = Expire, never).
TIMEOUT_NEEDED = {
    ApprovalFlow.TimeoutAction.AUTO_APPROVE: "Say when an undecided request is auto-approved.",
    ApprovalFlow.TimeoutAction.DENY: "Say when an undecided request is denied.",
}
SCALAR_FIELDS = (
    "description",
    "channel_email",
    "channel_sms",
    "min_approvals",
    "reminder_after",
    "reminder_repeat",
    "max_reminders",
    "escalate_after",
    "timeout_after",
    "timeout_action",
    "notify_requester",
    "enabled",
)


@dataclass
class LevelData:
    """One level of approvers: people and groups are notified, backups may decide silently."""

    people: Sequence[Person] = ()
    groups: Sequence[Group] = ()
    backup_people: Sequence[Person] = ()


@dataclass
class FlowData:
    """The fields of an approval flow as a form or a script hands them over."""

    name: str
    levels: Sequence[LevelData] = field(default_factory=list)
    description: str = ""
    channel_email: bool = True
    channel_sms: bool = False
    min_approvals: int = 1
    reminder_after: timedelta | None = None
    reminder_repeat: timedelta | None = None
    max_reminders: int = 3
    escalate_after: timedelta | None = None
    timeout_after: timedelta | None = None
    timeout_action: str = ApprovalFlow.TimeoutAction.EXPIRE
    notify_requester: bool = True
    enabled: bool = True


class FlowInUse(Exception):
    """The flow may not be deleted or disabled: policies or pending requests use it."""

    def __init__(self, usage: FlowUsage, verb: str) -> None:
        self.usage = usage
        self.verb = verb
        parts = []
        if usage.policy_count:
            parts.append(f"{usage.policy_count} polic{'y' if usage.policy_count == 1 else 'ies'}")
        if usage.pending_count:
            count = usage.pending_count
            parts.append(f"{count} pending request{'' if count == 1 else 's'}")
        super().__init__(f"Cannot {verb} this flow: it is used by {' and '.join(parts)}.")


# --- validation -----------------------------------------------------------------------------


def _general_errors(data: FlowData, flow: ApprovalFlow | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    name = data.name.strip()
    others = ApprovalFlow.objects.filter(name__iexact=name)
    if flow is not None:
        others = others.exclude(pk=flow.pk)
    if not name:
        errors["name"] = "Give the flow a name."
    elif len(name) > 200:
        errors["name"] = "Keep the name to 200 characters or fewer."
    elif others.exists():
        errors["name"] = NAME_TAKEN
    if len(data.description) > 500:
        errors["description"] = "Keep the description to 500 characters or fewer."
    return errors


def _channel_errors(data: FlowData, flow: ApprovalFlow | None) -> dict[str, str]:
    if data.channel_email or data.channel_sms:
        return {}
    return {"channels": "Choose at least one channel: Email, SMS or both."}


def _approver_errors(data: FlowData, flow: ApprovalFlow | None) -> dict[str, str]:
    """Each level notifies someone; level 1 reaches at least the minimum number of approvals.

    - Reached means notified: active people named or in a group. Backups may add approvals,
      but nobody tells them, so a minimum that only they could complete is refused.
    """
    if not data.levels:
        return {"levels": "Add at least one level of approvers."}
    if len(data.levels) > MAX_LEVELS:
        return {"levels": f"A flow has at most {MAX_LEVELS} levels."}
    errors = {
        f"level_{number}": f"Choose at least one person or group for level {number}: "
        "backup approvers alone are never notified."
        for number, level in enumerate(data.levels, start=1)
        if not (level.people or level.groups)
    }
    if not 1 <= data.min_approvals <= MAX_APPROVALS:
        errors["min_approvals"] = f"Ask for 1 to {MAX_APPROVALS} approvals."
    elif "level_1" not in errors:
        first = data.levels[0]
        reach = reachable_approver_count(people=first.people, groups=first.groups)
        if data.min_approvals > reach:
            errors["min_approvals"] = _reach_message(data.min_approvals, reach)
    return errors


def _reach_message(wanted: int, reach: int) -> str:
    if reach == 0:
        return "Level 1 reaches nobody: its people are locked and its groups have no members."
    people = f"{reach} active approver{'' if reach == 1 else 's'}"
    return f"Level 1 reaches only {people}: ask for {reach} or fewer, or add approvers."


def _duration_errors(data: FlowData) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name in ("reminder_after", "reminder_repeat", "escalate_after", "timeout_after"):
        value = getattr(data, name)
        if value is not None and not timedelta(0) < value <= MAX_DURATION:
            errors[name] = "Choose a duration between 1 minute and 365 days."
    if data.timeout_after is None and data.timeout_action in TIMEOUT_NEEDED:
        # Without a timeout a request waits: an outcome chosen for it would never happen.
        errors.setdefault("timeout_after", TIMEOUT_NEEDED[data.timeout_action])
    return errors


def _timing_errors(data: FlowData, flow: ApprovalFlow | None) -> dict[str, str]:
    """Reminders and escalation come before the timeout; escalation needs a next level."""
    errors = _duration_errors(data)
    timeout = data.timeout_after if "timeout_after" not in errors else None
    if data.reminder_repeat and not data.reminder_after:
        errors.setdefault("reminder_repeat", "Set when the first reminder goes out first.")
    if data.reminder_after and timeout and data.reminder_after >= timeout:
        errors.setdefault("reminder_after", "Remind before the timeout, or never.")
    if not 0 <= data.max_reminders <= MAX_REMINDERS:
        errors["max_reminders"] = f"Send 0 to {MAX_REMINDERS} reminders."
    elif data.reminder_after and data.max_reminders == 0:
        errors["max_reminders"] = "Send at least one reminder, or leave Remind after empty."
    if data.escalate_after and len(data.levels) < 2:
        errors.setdefault("escalate_after", "Escalation needs a second level of approvers.")
    elif data.escalate_after and timeout and data.escalate_after >= timeout:
        errors.setdefault("escalate_after", "Escalate before the timeout, or never.")
    if data.timeout_action not in ApprovalFlow.TimeoutAction.values:
        errors["timeout_action"] = "Choose auto-approve, deny or expire."
    return errors


_VALIDATORS: dict[str, Callable[[FlowData, ApprovalFlow | None], dict[str, str]]] = {
    "general": _general_errors,
    "channels": _channel_errors,
    "approvers": _approver_errors,
    "timing": _timing_errors,
}


def approval_flow_errors(
    data: FlowData, *, flow: ApprovalFlow | None = None, sections: Collection[str] = SECTIONS
) -> dict[str, str]:
    """What is wrong with the flow, field by field (`level_<n>` for a level), section by section."""
    errors: dict[str, str] = {}
    for section in sections:
        errors.update(_VALIDATORS[section](data, flow))
    return errors


def approval_flow_validate(data: FlowData, *, flow: ApprovalFlow | None = None) -> None:
    """Raise ValidationError, field by field, when the flow would not work."""
    errors = approval_flow_errors(data, flow=flow)
    if errors:
        raise ValidationError(errors)


# --- writes ---------------------------------------------------------------------------------


@transaction.atomic
def approval_flow_create(*, data: FlowData, actor: Any = None) -> ApprovalFlow:
    """Create a flow and its levels from validated data; record it in the audit trail."""
    approval_flow_validate(data)
    flow = ApprovalFlow()
    _save_fields(flow, data)
    _set_levels(flow, data.levels)
    _audit(flow, AuditEntry.Action.CREATED, actor, after=approval_flow_audit_state(flow))
    return flow


@transaction.atomic
def approval_flow_update(*, flow: ApprovalFlow, data: FlowData, actor: Any = None) -> ApprovalFlow:
    """Change every field and level of a flow, recording before and after.

    - The row is locked first: concurrent saves apply one after the other, each audited
      against what it replaced, and no policy or request can start using it meanwhile.
    - Disabling a flow that policies or pending requests use raises FlowInUse.
    - Raises ApprovalFlow.DoesNotExist when the flow was deleted meanwhile.
    """
    approval_flow_validate(data, flow=flow)
    locked = ApprovalFlow.objects.select_for_update().get(pk=flow.pk)
    if locked.enabled and not data.enabled:
        usage = flow_usage(locked)
        if usage.in_use:
            raise FlowInUse(usage, "disable")
    before = approval_flow_audit_state(locked)
    _save_fields(locked, data)
    _set_levels(locked, data.levels)
    after = approval_flow_audit_state(locked)
    _audit(locked, AuditEntry.Action.UPDATED, actor, before=before, after=after)
    return locked


@transaction.atomic
def approval_flow_delete(*, flow: ApprovalFlow, actor: Any = None) -> dict[str, Any]:
    """Delete a flow that nothing uses any more; returns what it was.

    - Refused with FlowInUse while a policy names it or a request is pending on it.
    - Decided requests keep their history; their link to the flow is cleared.
    - Raises ApprovalFlow.DoesNotExist when it was deleted meanwhile.
    """
    locked = ApprovalFlow.objects.select_for_update().get(pk=flow.pk)
    usage = flow_usage(locked)
    if usage.in_use:
        raise FlowInUse(usage, "delete")
    before = approval_flow_audit_state(locked)
    locked.requests.update(flow=None)
    pk = locked.pk
    locked.delete()
    locked.pk = pk
    _audit(locked, AuditEntry.Action.DELETED, actor, before=before)
    return before


def _save_fields(flow: ApprovalFlow, data: FlowData) -> None:
    """Copy the scalar fields and save; a name taken meanwhile becomes a ValidationError."""
    flow.name = data.name.strip()
    for name in SCALAR_FIELDS:
        setattr(flow, name, getattr(data, name))
    try:
        with transaction.atomic():
            flow.save()
    except IntegrityError as exc:
        if ApprovalFlow.objects.filter(name=flow.name).exclude(pk=flow.pk).exists():
            raise ValidationError({"name": NAME_TAKEN}) from exc
        raise


def _set_levels(flow: ApprovalFlow, levels: Sequence[LevelData]) -> None:
    """Levels are kept by position (pending requests count levels): update, add, drop extras."""
    existing = {level.position: level for level in ApprovalLevel.objects.filter(flow=flow)}
    for position, data in enumerate(levels, start=1):
        level = existing.pop(position, None) or ApprovalLevel.objects.create(
            flow=flow, position=position
        )
        level.people.set(data.people)
        level.groups.set(data.groups)
        level.backup_people.set(data.backup_people)
    ApprovalLevel.objects.filter(pk__in=[level.pk for level in existing.values()]).delete()


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def approval_flow_audit_state(flow: ApprovalFlow) -> dict[str, Any]:
    """The flow as plain JSON for the audit trail: emails and group names, timing in seconds."""
    levels = [
        {
            "position": level.position,
            "people": sorted(level.people.values_list("email", flat=True)),
            "groups": sorted(level.groups.values_list("name", flat=True)),
            "backup_people": sorted(level.backup_people.values_list("email", flat=True)),
        }
        for level in ApprovalLevel.objects.filter(flow=flow).order_by("position")
    ]
    return {
        "name": flow.name,
        "description": flow.description,
        "channels": flow_channel_keys(flow),
        "levels": levels,
        "min_approvals": flow.min_approvals,
        "reminder_after_seconds": _seconds(flow.reminder_after),
        "reminder_repeat_seconds": _seconds(flow.reminder_repeat),
        "max_reminders": flow.max_reminders,
        "escalate_after_seconds": _seconds(flow.escalate_after),
        "timeout_after_seconds": _seconds(flow.timeout_after),
        "timeout_action": flow.timeout_action,
        "notify_requester": flow.notify_requester,
        "enabled": flow.enabled,
    }


def flow_channel_keys(flow: ApprovalFlow) -> list[str]:
    """The flow's channels as keys: "email", "sms"."""
    return [key for key, on in (("email", flow.channel_email), ("sms", flow.channel_sms)) if on]


def _audit(
    flow: ApprovalFlow,
    action: str,
    actor: Any,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="approval_flow",
        object_id=flow.pk,
        object_repr=flow.name,
        before=before,
        after=after,
    )
