"""The HTML list pages build in Python for speed: the same markup as Django's, always escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django import forms
from django.test.html import parse_html
from django.utils import timezone
from django.utils.html import format_html

from agenwork.templatetags.agenwork_tags import absolute, connector_label, relative, when
from agenwork.widgets import QuickSelect, QuickSelectMultiple
from connectors.models import Connector
from requests_app.models import AccessRequest
from tests.factories import ConnectorFactory, PersonFactory, ToolFactory, make_request

HOSTILE = "<script>alert('x')</script> & \"quoted\""
CHOICES = [("", "All"), ("github", "GitHub"), ("a&b", "A & B <c>"), ("none", HOSTILE)]
GROUPED = [("", "Any"), ("Code", [("github", "GitHub"), ("gitlab", "GitLab")]), ("x", "X")]


def both(field_class, widget_attrs=None, **kwargs):
    """The same field twice: with Django's Select and with QuickSelect."""
    attrs = widget_attrs or {"class": "form-select form-select-sm"}

    class DjangoForm(forms.Form):
        choice = field_class(widget=forms.Select(attrs=attrs), **kwargs)

    class QuickForm(forms.Form):
        choice = field_class(widget=QuickSelect(attrs=attrs), **kwargs)

    return DjangoForm, QuickForm


def drawn_alike(django_form, quick_form, data=None) -> bool:
    """Whether both forms draw the field as the same HTML (attribute order and spaces aside)."""
    quick, django = (str(form(data)["choice"]) for form in (quick_form, django_form))
    return parse_html(quick) == parse_html(django)


@pytest.mark.parametrize(
    "data",
    [None, {}, {"choice": "github"}, {"choice": "a&b"}, {"choice": "unknown"}, {"choice": ""}],
)
@pytest.mark.parametrize("required", [True, False])
def test_quick_select_draws_what_djangos_select_draws(data, required):
    django_form, quick_form = both(forms.ChoiceField, choices=CHOICES, required=required)
    expected = str(django_form(data)["choice"])
    drawn = str(quick_form(data)["choice"])
    assert parse_html(drawn) == parse_html(expected)
    assert "<script>" not in drawn


@pytest.mark.parametrize("data", [None, {"choice": "gitlab"}, {"choice": "x"}])
def test_quick_select_draws_option_groups_like_django(data):
    django_form, quick_form = both(forms.ChoiceField, choices=GROUPED, required=False)
    assert drawn_alike(django_form, quick_form, data)


@pytest.mark.parametrize("attrs", [{"disabled": True, "data-x": "1"}, {"hidden": False, "a": None}])
def test_quick_select_writes_boolean_attributes_like_django(attrs):
    django_form, quick_form = both(forms.ChoiceField, widget_attrs=attrs, choices=CHOICES)
    assert drawn_alike(django_form, quick_form)


@pytest.mark.django_db
@pytest.mark.parametrize("chosen", [None, "github", "gitlab"])
def test_quick_select_draws_model_choices_like_django(chosen):
    ConnectorFactory(slug="github", name="GitHub")
    ConnectorFactory(slug="gitlab", name="Git<Lab>")
    field = dict(queryset=Connector.objects.order_by("name"), to_field_name="slug", required=False)
    django_form, quick_form = both(forms.ModelChoiceField, empty_label="All connectors", **field)
    data = {"choice": chosen} if chosen else None
    assert drawn_alike(django_form, quick_form, data)


def test_quick_select_selects_one_option_only_as_django_does():
    choices = [("a", "First"), ("a", "Second")]
    django_form, quick_form = both(forms.ChoiceField, choices=choices)
    drawn = str(quick_form({"choice": "a"})["choice"])
    assert drawn.count(" selected") == 1
    assert parse_html(drawn) == parse_html(str(django_form({"choice": "a"})["choice"]))


@pytest.mark.parametrize(
    "data", [None, {}, {"choice": ["github"]}, {"choice": ["github", "a&b", "none"]}, {"x": "1"}]
)
def test_quick_select_multiple_draws_what_djangos_select_multiple_draws(data):
    class DjangoForm(forms.Form):
        choice = forms.MultipleChoiceField(
            choices=CHOICES, required=False, widget=forms.SelectMultiple(attrs={"size": 4})
        )

    class QuickForm(forms.Form):
        choice = forms.MultipleChoiceField(
            choices=CHOICES, required=False, widget=QuickSelectMultiple(attrs={"size": 4})
        )

    drawn = str(QuickForm(data)["choice"])
    assert parse_html(drawn) == parse_html(str(DjangoForm(data)["choice"]))
    assert " multiple" in drawn
    chosen = (data or {}).get("choice", [])
    assert drawn.count(" selected") == len(chosen)
    assert "<script>" not in drawn


# --- dates and connector labels ---------------------------------------------------------------


def old_when(value: datetime) -> str:
    """The <time> element as format_html built it before it was written out by hand."""
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{}"><span class="when-abs">{}</span>'
        '<span class="when-sep">,</span> <span class="when-rel">{}</span></time>',
        local.isoformat(),
        local.strftime("%d %B %Y %H:%M %Z"),
        absolute(value),
        relative(value),
    )


@pytest.mark.parametrize("zone", ["UTC", "Europe/Madrid", "America/Los_Angeles"])
def test_when_draws_the_time_element_as_format_html_would(settings, zone):
    settings.TIME_ZONE = zone
    value = timezone.now() - timedelta(days=3, hours=2)
    assert when(value) == old_when(value)
    assert when(None) == ""


def test_when_measures_from_the_given_now():
    value = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    assert '"when-rel">2 days ago</span></time>' in when(value, value + timedelta(days=2, hours=3))
    assert '"when-rel">in 1 hour</span></time>' in when(value, value - timedelta(minutes=61))


@pytest.mark.django_db
def test_connector_label_escapes_the_name():
    connector = ConnectorFactory(slug="hostile", icon="", name=HOSTILE)
    label = connector_label(connector)
    assert "<script>" not in label
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in label
    assert 'class="connector-icon"' in label


# --- the Requests table's rows ----------------------------------------------------------------


@pytest.mark.django_db
def test_request_rows_escape_every_value_people_and_agents_typed(admin_client, flow):
    connector = ConnectorFactory(slug="hostile", icon="", name=f"Conn {HOSTILE}")
    tool = ToolFactory(connector=connector, key=f"tool_{HOSTILE}")
    requester = PersonFactory(name=f"Name {HOSTILE}", email="evil@example.com")
    request = make_request(requester=requester, tools=[tool], flow=flow, note=f"Note {HOSTILE}")
    AccessRequest.objects.filter(pk=request.pk).update(requester_identifier=f"Id {HOSTILE}")
    body = admin_client.get("/requests/").content.decode()
    assert "<script>" not in body.split("<tbody>", 1)[1]
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;"
    for prefix in ("Conn ", "tool_", "Name ", "Id ", "Note "):
        assert prefix + escaped in body, prefix
    assert f'<tr data-request="{request.public_id}">' in body
    assert f'href="/requests/{request.public_id}/" hx-get="/requests/{request.public_id}/"' in body
