"""The policy form, shared by the Policies page and "Create policy" on a request."""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import reverse

from approval_flows.models import ApprovalFlow
from connectors.models import Connector, Tool
from directory.forms import GroupChoiceField, PersonChoiceField
from policies.evaluation import Call, Snapshot
from policies.models import Policy
from policies.services import PolicyData, policy_validate


class ToolChoiceField(forms.ModelMultipleChoiceField):
    """Tools by key, with their access kind."""

    def label_from_instance(self, obj: Tool) -> str:
        return f"{obj.key} ({obj.get_access_display().lower()})"


class PolicyForm(forms.Form):
    """Name, description, connector, tools, who, action and approval flow of a policy."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(
        max_length=160, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    connector = forms.ModelChoiceField(queryset=Connector.objects.order_by("name"))
    tools = ToolChoiceField(
        queryset=Tool.objects.select_related("connector"),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        help_text="None chosen means every tool of the connector.",
    )
    all_users = forms.BooleanField(required=False, label="All users")
    users = PersonChoiceField(required=False, help_text="Ignored when All users is on.")
    groups = GroupChoiceField(required=False)
    action = forms.ChoiceField(choices=Policy.Action.choices)
    approval_flow = forms.ModelChoiceField(
        queryset=ApprovalFlow.objects.filter(enabled=True),
        required=False,
        help_text="Required when the action is Request approval.",
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(
        self,
        *args: Any,
        connector: Connector | None = None,
        policy: Policy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.Select | forms.SelectMultiple):
                widget.attrs.setdefault("class", "form-select form-select-sm")
            elif isinstance(widget, forms.TextInput | forms.Textarea):
                widget.attrs.setdefault("class", "form-control form-control-sm")
        if policy is not None and policy.approval_flow_id:
            # A policy keeps its flow even after the flow was disabled.
            flows = ApprovalFlow.objects.filter(Q(enabled=True) | Q(pk=policy.approval_flow_id))
            self.fields["approval_flow"].queryset = flows
        if connector is not None:
            self.fields["connector"].queryset = Connector.objects.filter(pk=connector.pk)
            self.fields["tools"].queryset = Tool.objects.filter(connector=connector)
        else:
            self._show_tools_of(self.chosen_connector_id())
            self.fields["connector"].widget.attrs.update(
                {
                    "hx-get": reverse("policies:tools"),
                    "hx-target": "#policy-tools",
                    "hx-swap": "outerHTML",
                    "hx-push-url": "false",
                }
            )

    def chosen_connector_id(self) -> int | None:
        """The connector the form is about: posted, or initial; None when unknown."""
        if self.is_bound:
            raw = self.data.get(self.add_prefix("connector"))
        else:
            raw = self.initial.get("connector")
        raw = getattr(raw, "pk", raw)
        try:
            return int(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            return None

    def _show_tools_of(self, connector_id: int | None) -> None:
        """Offer only the chosen connector's tools, while any tool still validates.

        - A tool of another connector is then refused by policy_validate with a clear message
          ("Choose tools of … only") rather than as an unknown choice.
        """
        field = self.fields["tools"]
        # The copy shares the widget: setting its queryset sets the choices the widget shows.
        shown = copy.copy(field)
        shown.queryset = (
            Tool.objects.filter(connector_id=connector_id).order_by("key", "id")
            if connector_id is not None
            else Tool.objects.none()
        )

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            policy_validate(self.to_data())
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)
        return cleaned

    def to_data(self) -> PolicyData:
        c = self.cleaned_data
        return PolicyData(
            name=c["name"],
            description=c.get("description", ""),
            connector=c["connector"],
            tools=list(c.get("tools") or []),
            all_users=c.get("all_users", False),
            users=list(c.get("users") or []),
            groups=list(c.get("groups") or []),
            action=c["action"],
            approval_flow=c.get("approval_flow"),
            enabled=c.get("enabled", False),
        )


def policy_initial(policy: Policy) -> dict[str, Any]:
    """The form's initial values for editing a policy."""
    return {
        "name": policy.name,
        "description": policy.description,
        "connector": policy.connector_id,
        "tools": [tool.pk for tool in policy.tools.all()],
        "all_users": policy.all_users,
        "users": [person.pk for person in policy.users.all()],
        "groups": [group.pk for group in policy.groups.all()],
        "action": policy.action,
        "approval_flow": policy.approval_flow_id,
        "enabled": policy.enabled,
    }


class SimulateForm(forms.Form):
    """A call to test: who, which connector, which of its tools (as the gateway names them)."""

    user = forms.CharField(
        max_length=254,
        label="User",
        help_text="Email or external id, as the gateway sends it.",
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
    )
    connector = forms.ChoiceField(
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    tools = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})
    )

    def __init__(self, *args: Any, snapshot: Snapshot, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        connectors = sorted(snapshot.connectors_by_slug.values(), key=lambda c: c.name.lower())
        self.fields["connector"].choices = [(c.slug, c.name) for c in connectors]
        source = self.data if self.is_bound else self.initial
        slug = source.get("connector") or (connectors[0].slug if connectors else "")
        chosen = snapshot.connectors_by_slug.get(slug)
        keys = sorted(chosen.tools_by_key) if chosen is not None else []
        self.fields["tools"].choices = [(key, key) for key in keys]
        # Choosing another connector re-renders the form with that connector's tools.
        self.fields["connector"].widget.attrs.update(
            {
                "hx-get": reverse("policies:simulate"),
                "hx-include": "closest form",
                "hx-vals": '{"refresh": "1"}',
                "hx-target": "#policy-panel",
                "hx-swap": "outerHTML",
                "hx-push-url": "false",
            }
        )

    def to_call(self) -> Call:
        c = self.cleaned_data
        return Call(user=c["user"].strip(), connector=c["connector"], tools=tuple(c["tools"]))
