"""The policy form, shared by the Policies page and "Create policy" on a request."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from approval_flows.models import ApprovalFlow
from connectors.models import Connector, Tool
from directory.models import Group, Person
from policies.models import Policy
from policies.services import PolicyData, policy_validate


class ToolChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Tool) -> str:
        return f"{obj.key} ({obj.get_access_display().lower()})"


class PolicyForm(forms.Form):
    """Name, description, connector, tools, who, action and approval flow of a policy."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(
        max_length=160, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    connector = forms.ModelChoiceField(queryset=Connector.objects.all())
    tools = ToolChoiceField(
        queryset=Tool.objects.select_related("connector"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen means every tool of the connector.",
    )
    all_users = forms.BooleanField(required=False, label="All users")
    users = forms.ModelMultipleChoiceField(queryset=Person.objects.all(), required=False)
    groups = forms.ModelMultipleChoiceField(queryset=Group.objects.all(), required=False)
    action = forms.ChoiceField(choices=Policy.Action.choices)
    approval_flow = forms.ModelChoiceField(
        queryset=ApprovalFlow.objects.filter(enabled=True),
        required=False,
        help_text="Required when the action is Request approval.",
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, connector: Connector | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.Select | forms.SelectMultiple):
                widget.attrs.setdefault("class", "form-select form-select-sm")
            elif isinstance(widget, forms.TextInput | forms.Textarea):
                widget.attrs.setdefault("class", "form-control form-control-sm")
        if connector is not None:
            self.fields["connector"].queryset = Connector.objects.filter(pk=connector.pk)
            self.fields["tools"].queryset = Tool.objects.filter(connector=connector)

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
