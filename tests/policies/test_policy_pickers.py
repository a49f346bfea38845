"""The policy form's people and group lists: what the picker searches, what a plain list posts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from policies.models import Policy
from tests.factories import GroupFactory, PersonFactory
from tests.policies.test_views import (
    html,
    policy_post,
)
from tests.support.forms import native_select

NEW = "/policies/new/"


@pytest.fixture
def directory(db):
    """A crowd of people the lists must hold, plus the few the tests choose."""
    PersonFactory.create_batch(40)
    return {
        "ben": PersonFactory(name="Ben Kim", email="ben@example.com"),
        "dana": PersonFactory(name="Dana Levi", email="dana@example.com"),
        "lee": PersonFactory(name="Lee Park", email="lee@example.com", status="locked"),
        "max": PersonFactory(
            name="Max Gone",
            email="max@example.com",
            deactivated_at=datetime(2026, 1, 5, tzinfo=UTC),
        ),
        "sales": GroupFactory(name="Sales"),
        "security": GroupFactory(name="Security"),
    }


def test_each_person_is_offered_by_name_and_email_to_search(admin_client, directory):
    body = html(admin_client.get(NEW))
    users = native_select(body, "users")
    assert "multiple" in users.tag and "data-picker" in users.tag
    assert 'data-placeholder="Type a name or email"' in users.tag
    people = users.values
    assert people["Ben Kim · ben@example.com"] == str(directory["ben"].pk)
    assert people["Lee Park · lee@example.com (locked)"] == str(directory["lee"].pk)
    assert people["Max Gone · max@example.com (deactivated)"] == str(directory["max"].pk)
    assert len(people) == 44
    groups = native_select(body, "groups")
    assert "multiple" in groups.tag and "data-picker" in groups.tag
    assert groups.values == {
        "Sales": str(directory["sales"].pk),
        "Security": str(directory["security"].pk),
    }


def test_what_the_plain_lists_post_is_what_the_policy_saves(admin_client, connector, directory):
    """Without JavaScript a person Ctrl-clicks options: the form posts the lists' own names."""
    body = html(admin_client.get(NEW))
    people = native_select(body, "users").values
    groups = native_select(body, "groups").values
    chosen = {
        "users": [people["Ben Kim · ben@example.com"], people["Dana Levi · dana@example.com"]],
        "groups": [groups["Security"]],
    }
    response = admin_client.post(NEW, policy_post(connector, all_users=None, **chosen))
    assert response.status_code == 302
    policy = Policy.objects.get(name="Ana may manage calendar events")
    assert {p.email for p in policy.users.all()} == {"ben@example.com", "dana@example.com"}
    assert [g.name for g in policy.groups.all()] == ["Security"]


def test_an_edit_form_shows_the_chosen_people_selected(admin_client, connector, directory):
    policy = Policy.objects.create(name="Two people", connector=connector, all_users=False)
    policy.users.set([directory["ben"], directory["dana"]])
    body = html(admin_client.get(f"/policies/{policy.pk}/edit/"))
    selected = native_select(body, "users").selected
    assert sorted(selected) == sorted(str(directory[name].pk) for name in ("ben", "dana"))


def test_a_person_who_is_not_in_the_directory_is_refused(admin_client, connector, directory):
    data = policy_post(connector, all_users=None, users=["999999"])
    response = admin_client.post(NEW, data)
    assert response.status_code == 400
    assert "Select a valid choice. 999999 is not one of the available choices." in html(response)
    assert not Policy.objects.exists()


def test_the_lists_cost_the_same_queries_however_many_people(admin_client, directory):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(NEW).status_code == 200
        return len(ctx.captured_queries)

    before = queries()
    PersonFactory.create_batch(60)
    GroupFactory.create_batch(5)
    assert queries() == before
