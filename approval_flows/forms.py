"""The approval flow form, filled in four steps: general, channels, approvers, timing.

- One Django form holds every step; the panel shows one step and keeps the others in hidden
  fieldsets, so the draft travels with each POST (Back / Next / Save) and needs no JavaScript.
- Levels are fields `level_<n>_people`, `level_<n>_groups`, `level_<n>_backup_people` for n in
  1..`level_count`; adding or removing a level rewrites the posted draft.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from approval_flows.models import ApprovalFlow
from approval_flows.services import (
    MAX_APPROVALS,
    MAX_LEVELS,
    MAX_REMINDERS,
    TIMEOUT_NEEDED,
    FlowData,
    LevelData,
    approval_flow_errors,
    flow_channel_keys,
)
from directory.forms import GroupChoiceField, PersonChoiceField, ReadOptions

UNITS = {"minutes": 60, "hours": 3600, "days": 86400}
CHANNELS = (("email", "Email"), ("sms", "SMS"))
LEVEL_FIELDS = ("people", "groups", "backup_people")
SMALL = {"class": "form-control form-control-sm"}
# "Keep waiting" is no timeout at all; every other outcome is chosen by hand, with its time.
WAIT = "wait"
TimeoutAction = ApprovalFlow.TimeoutAction
TIMEOUT_CHOICES = (
    (WAIT, "Keep waiting"),
    (TimeoutAction.EXPIRE, "Expire"),
    (TimeoutAction.DENY, "Deny"),
    (TimeoutAction.AUTO_APPROVE, "Auto-approve"),
)
NEEDS_TIME = {**TIMEOUT_NEEDED, TimeoutAction.EXPIRE: "Say when an undecided request expires."}


@dataclass(frozen=True)
class Step:
    """One step of the form: its number, title, validation section and fields."""

    number: int
    slug: str
    title: str
    fields: tuple[str, ...]


STEPS = (
    Step(1, "general", "General", ("name", "description", "enabled")),
    Step(2, "channels", "Channels", ("channels",)),
    Step(3, "approvers", "Approvers", ("min_approvals",)),  # and every level_* field
    Step(
        4,
        "timing",
        "Timing",
        (
            "reminder_after",
            "reminder_repeat",
            "max_reminders",
            "escalate_after",
            "timeout_action",
            "timeout_after",
            "notify_requester",
        ),
    ),
)
APPROVERS = STEPS[2]


def step_of(field_name: str) -> Step:
    """The step that shows a field (levels belong to Approvers; unknown fields to General)."""
    if field_name.startswith("level_") or field_name == "levels":
        return APPROVERS
    return next((step for step in STEPS if field_name in step.fields), STEPS[0])


# --- durations: a number and a unit ---------------------------------------------------------


def split_duration(value: timedelta) -> tuple[int, str]:
    """A duration as the largest whole unit: 90 minutes, 2 hours, 3 days."""
    seconds = int(value.total_seconds())
    for unit in ("days", "hours", "minutes"):
        if seconds and seconds % UNITS[unit] == 0:
            return seconds // UNITS[unit], unit
    return max(1, round(seconds / 60)), "minutes"


def duration_text(value: timedelta | None) -> str:
    """ "1 hour", "90 minutes", "2 days"; "" for none."""
    if value is None:
        return ""
    number, unit = split_duration(value)
    return f"{number} {unit if number != 1 else unit[:-1]}"


class DurationWidget(forms.MultiWidget):
    """A number input and a unit select, posted as `<name>` and `<name>_unit`."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        number = forms.NumberInput(attrs={**SMALL, "min": 1, "step": 1, "inputmode": "numeric"})
        unit = forms.Select(
            choices=[(u, u) for u in UNITS],
            attrs={"class": "form-select form-select-sm duration-unit", "aria-label": "Unit"},
        )
        super().__init__({"": number, "unit": unit}, attrs)

    def decompress(self, value: timedelta | None) -> list[Any]:
        return [None, "hours"] if value is None else list(split_duration(value))


class DurationField(forms.MultiValueField):
    """A duration typed as a number and a unit; empty means none (or an error when required)."""

    def __init__(self, **kwargs: Any) -> None:
        fields = (
            forms.IntegerField(min_value=1, max_value=100_000, required=False),
            forms.ChoiceField(choices=[(u, u) for u in UNITS], required=False),
        )
        kwargs.setdefault("widget", DurationWidget)
        super().__init__(fields, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[Any]) -> timedelta | None:
        number, unit = ([*data_list, None, None])[:2]
        if number in self.empty_values:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return None
        return timedelta(seconds=number * UNITS[unit or "hours"])


# --- the form -------------------------------------------------------------------------------


def _level_count(data: QueryDict | None, initial: dict[str, Any]) -> int:
    raw = data.get("level_count") if data is not None else initial.get("level_count")
    try:
        count = int(raw or 1)
    except (TypeError, ValueError):
        count = 1
    return min(max(count, 1), MAX_LEVELS)


class FlowForm(forms.Form):
    """Every field of a flow, the levels included; validated by the services' rules."""

    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs=SMALL))
    description = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={**SMALL, "rows": 2})
    )
    enabled = forms.BooleanField(
        required=False,
        initial=True,
        help_text="A disabled flow cannot be chosen for a policy.",
    )
    channels = forms.MultipleChoiceField(
        choices=CHANNELS,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        error_messages={"required": "Choose at least one channel: Email, SMS or both."},
        help_text="How approvers are told about a new request.",
    )
    min_approvals = forms.IntegerField(
        min_value=1,
        max_value=MAX_APPROVALS,
        initial=1,
        label="Minimum approvals",
        widget=forms.NumberInput(attrs=SMALL),
        help_text="How many approvals decide a request (at most the people level 1 notifies); "
        "any single deny denies it.",
    )
    reminder_after = DurationField(
        required=False, label="Remind after", help_text="Empty: never remind."
    )
    reminder_repeat = DurationField(
        required=False, label="Then remind every", help_text="Empty: remind once."
    )
    max_reminders = forms.IntegerField(
        min_value=0,
        max_value=MAX_REMINDERS,
        initial=3,
        label="Maximum reminders",
        widget=forms.NumberInput(attrs=SMALL),
    )
    escalate_after = DurationField(
        required=False,
        label="Escalate to the next level after",
        help_text="Only with two or more levels. Empty: never escalate.",
    )
    timeout_action = forms.ChoiceField(
        choices=TIMEOUT_CHOICES,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        initial=WAIT,
        label="When nobody decides",
    )
    timeout_after = DurationField(
        required=False,
        label="Time out after",
        help_text="For Expire, Deny and Auto-approve: how long after the request.",
    )
    notify_requester = forms.BooleanField(
        required=False, initial=True, label="Tell the requester the outcome"
    )

    def __init__(self, *args: Any, flow: ApprovalFlow | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.flow = flow
        self.level_count = _level_count(self.data if self.is_bound else None, self.initial)
        for number in range(1, self.level_count + 1):
            self.fields[f"level_{number}_people"] = PersonChoiceField(
                required=False, label="People"
            )
            self.fields[f"level_{number}_groups"] = GroupChoiceField(required=False, label="Groups")
            self.fields[f"level_{number}_backup_people"] = PersonChoiceField(
                required=False,
                label="Backup approvers",
                help_text="May decide, but are not notified.",
            )
        # Every list of every level offers the same people (or groups): read them once.
        people = ReadOptions(PersonChoiceField().choices)
        groups = ReadOptions(GroupChoiceField().choices)
        for name, field in self.fields.items():
            if name.startswith("level_"):
                field.choices = people if isinstance(field, PersonChoiceField) else groups

    @property
    def levels(self) -> list[dict[str, Any]]:
        """The bound fields of each level, for the template."""
        return [
            {"number": n, **{f: self[f"level_{n}_{f}"] for f in LEVEL_FIELDS}}
            for n in range(1, self.level_count + 1)
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self._check_timeout()
        # Only sections whose own fields are valid are checked: no knock-on errors.
        sections = [step.slug for step in STEPS if not self.step_has_errors(step)]
        for key, message in approval_flow_errors(
            self.to_data(), flow=self.flow, sections=sections
        ).items():
            self.add_error(_field_for(key, self.fields), message)
        return cleaned

    def _check_timeout(self) -> None:
        """An outcome needs its time, and a time needs its outcome: neither is dropped silently."""
        if "timeout_after" in self.errors or "timeout_action" in self.errors:
            return
        action = self.cleaned_data.get("timeout_action")
        timeout = self.cleaned_data.get("timeout_after")
        if action == WAIT and timeout is not None:
            self.add_error(
                "timeout_after",
                "Choose what happens after this time (Expire, Deny or Auto-approve), "
                "or leave it empty to keep waiting.",
            )
        elif action != WAIT and timeout is None:
            self.add_error("timeout_after", NEEDS_TIME[action])

    def step_has_errors(self, step: Step) -> bool:
        """Whether validation found a problem on this step."""
        return self.is_bound and any(step_of(name) == step for name in self.errors)

    def first_invalid_step(self, first: int = 1, last: int = len(STEPS)) -> Step | None:
        """The first step from `first` to `last` with an error, or None."""
        return next(
            (s for s in STEPS if first <= s.number <= last and self.step_has_errors(s)), None
        )

    def to_data(self) -> FlowData:
        c = self.cleaned_data
        channels = c.get("channels") or []
        return FlowData(
            name=c.get("name", ""),
            description=c.get("description", ""),
            channel_email="email" in channels,
            channel_sms="sms" in channels,
            levels=[self._level_data(n) for n in range(1, self.level_count + 1)],
            min_approvals=c.get("min_approvals") or 1,
            reminder_after=c.get("reminder_after"),
            reminder_repeat=c.get("reminder_repeat"),
            max_reminders=c.get("max_reminders") if c.get("max_reminders") is not None else 3,
            escalate_after=c.get("escalate_after"),
            **_timeout_data(c.get("timeout_action") or WAIT, c.get("timeout_after")),
            notify_requester=c.get("notify_requester", False),
            enabled=c.get("enabled", False),
        )

    def _level_data(self, number: int) -> LevelData:
        c = self.cleaned_data
        return LevelData(
            **{f: list(c.get(f"level_{number}_{f}") or []) for f in LEVEL_FIELDS},
        )

    def add_service_errors(self, exc: ValidationError) -> None:
        """Show a ValidationError of the services (a race: a name taken meanwhile) by field."""
        for key, messages in exc.message_dict.items():
            self.add_error(_field_for(key, self.fields), messages)


def _timeout_data(action: str, timeout: timedelta | None) -> dict[str, Any]:
    """The flow's timeout fields for the form's choice: Keep waiting is no timeout."""
    if action == WAIT:
        return {"timeout_after": None, "timeout_action": TimeoutAction.EXPIRE}
    return {"timeout_after": timeout, "timeout_action": action}


def _field_for(key: str, fields: dict[str, Any]) -> str | None:
    """The form field that shows a service error: `level_<n>` shows under its people."""
    if key.startswith("level_") and f"{key}_people" in fields:
        return f"{key}_people"
    return key if key in fields else None


# --- initial values and the draft's levels --------------------------------------------------

INITIAL_FIELDS = (
    "name",
    "description",
    "enabled",
    "min_approvals",
    "reminder_after",
    "reminder_repeat",
    "max_reminders",
    "escalate_after",
    "timeout_after",
    "notify_requester",
)
NEW_FLOW_INITIAL: dict[str, Any] = {
    "enabled": True,
    "channels": ["email"],
    "level_count": 1,
    "min_approvals": 1,
    "max_reminders": 3,
    "timeout_action": WAIT,
    "notify_requester": True,
}


def flow_initial(flow: ApprovalFlow) -> dict[str, Any]:
    """The form's initial values for editing a flow (its levels prefetched or not)."""
    initial: dict[str, Any] = {name: getattr(flow, name) for name in INITIAL_FIELDS}
    levels = sorted(flow.levels.all(), key=lambda level: level.position)
    initial.update(
        channels=flow_channel_keys(flow),
        level_count=len(levels) or 1,
        timeout_action=flow.timeout_action if flow.timeout_after is not None else WAIT,
    )
    for number, level in enumerate(levels, start=1):
        for f in LEVEL_FIELDS:
            initial[f"level_{number}_{f}"] = [obj.pk for obj in getattr(level, f).all()]
    return initial


def draft_with_level_added(data: QueryDict) -> QueryDict:
    """The posted draft with one more (empty) level at the end."""
    draft = data.copy()
    draft["level_count"] = str(min(_level_count(data, {}) + 1, MAX_LEVELS))
    return draft


def draft_without_level(data: QueryDict, number: int) -> QueryDict:
    """The posted draft without level `number`; the levels after it move up."""
    count = _level_count(data, {})
    draft = data.copy()
    if count <= 1 or not 1 <= number <= count:
        return draft
    for n in range(number, count):
        for f in LEVEL_FIELDS:
            draft.setlist(f"level_{n}_{f}", data.getlist(f"level_{n + 1}_{f}"))
    for f in LEVEL_FIELDS:
        draft.pop(f"level_{count}_{f}", None)
    draft["level_count"] = str(count - 1)
    return draft
