"""SCIM Groups: Okta group push and Entra ID membership changes, filters, errors, the snapshot."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from directory.models import Group
from policies.snapshot import current_snapshot
from tests.directory.test_scim_users import PATCH_OP, assert_scim_error
from tests.factories import GroupFactory, PersonFactory

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.fixture
def people(db):
    return [PersonFactory(email=f"p{i}@example.com") for i in range(3)]


def member_ids(group: Group) -> set[int]:
    return set(group.members.values_list("pk", flat=True))


def test_okta_group_push_create_rename_add_remove(scim, people):
    created = scim.post(
        "Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Sales", "members": []}
    )
    assert created.status_code == 201, created.content
    group_id = created.json()["id"]
    rename = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"id": group_id, "displayName": "Sales EMEA"}}],
    }
    assert scim.patch(f"Groups/{group_id}", rename).status_code == 204
    add = {
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "op": "add",
                "path": "members",
                "value": [{"value": str(p.pk), "display": p.email} for p in people[:2]],
            }
        ],
    }
    assert scim.patch(f"Groups/{group_id}", add).status_code == 204
    group = Group.objects.get(pk=group_id)
    assert group.name == "Sales EMEA"
    assert member_ids(group) == {people[0].pk, people[1].pk}
    remove = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "remove", "path": f'members[value eq "{people[0].pk}"]'}],
    }
    assert scim.patch(f"Groups/{group_id}", remove).status_code == 204
    assert member_ids(group) == {people[1].pk}
    members = scim.get(f"Groups/{group_id}").json()["members"]
    assert [m["value"] for m in members] == [str(people[1].pk)]
    assert AuditEntry.objects.filter(object_type="group", channel="scim").count() == 4


def test_entra_add_remove_and_replace_members_with_capitalised_ops(scim, people):
    group = GroupFactory(name="Engineering")
    ops = [
        {"op": "Add", "path": "members", "value": [{"value": str(people[0].pk)}]},
        {"op": "Add", "path": "members", "value": [{"value": str(people[2].pk)}]},
        {"op": "Remove", "path": "members", "value": [{"value": str(people[0].pk)}]},
    ]
    assert (
        scim.patch(f"Groups/{group.pk}", {"schemas": [PATCH_OP], "Operations": ops}).status_code
        == 204
    )
    assert member_ids(group) == {people[2].pk}
    replace = {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "Replace", "path": "members", "value": [{"value": str(people[1].pk)}]},
            {"op": "Replace", "path": "externalId", "value": "8d2a-eng"},
        ],
    }
    assert scim.patch(f"Groups/{group.pk}", replace).status_code == 204
    group.refresh_from_db()
    assert member_ids(group) == {people[1].pk}
    assert group.external_id == "8d2a-eng"


def test_membership_changes_rebuild_the_policy_snapshot(scim, people):
    group = GroupFactory(name="Security")
    assert current_snapshot().find_person(people[0].email).group_ids == frozenset()
    add = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": str(people[0].pk)}]}],
    }
    scim.patch(f"Groups/{group.pk}", add)
    assert current_snapshot().find_person(people[0].email).group_ids == frozenset({group.pk})


def test_filter_by_display_name_and_excluded_members(scim, people):
    group = GroupFactory(name="Sales")
    group.members.add(people[0])
    GroupFactory(name="Support")
    found = scim.get("Groups", filter='displayName eq "sales"', excludedAttributes="members").json()
    assert found["totalResults"] == 1
    assert found["Resources"][0]["displayName"] == "Sales"
    assert "members" not in found["Resources"][0]
    listed = scim.get("Groups").json()
    assert [r["displayName"] for r in listed["Resources"]] == ["Sales", "Support"]
    assert listed["Resources"][0]["members"][0]["value"] == str(people[0].pk)
    assert_scim_error(scim.get("Groups", filter='members eq "1"'), 400, "invalidFilter")


def test_put_replaces_name_and_members(scim, people):
    group = GroupFactory(name="Sales")
    group.members.add(people[0])
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": "Sales NA",
        "members": [{"value": str(people[2].pk)}],
    }
    response = scim.put(f"Groups/{group.pk}", body)
    assert response.status_code == 200, response.content
    assert response.json()["displayName"] == "Sales NA"
    assert member_ids(group) == {people[2].pk}


def test_delete_group(scim, people):
    group = GroupFactory(name="Temp")
    group.members.add(people[0])
    assert scim.delete(f"Groups/{group.pk}").status_code == 204
    assert not Group.objects.filter(pk=group.pk).exists()
    assert AuditEntry.objects.get(object_type="group", action="deleted").channel == "scim"
    assert_scim_error(scim.delete(f"Groups/{group.pk}"), 404)


def test_duplicate_group_is_409(scim):
    GroupFactory(name="Sales")
    body = {"schemas": [GROUP_SCHEMA], "displayName": "SALES"}
    assert_scim_error(scim.post("Groups", body), 409, "uniqueness")
    assert Group.objects.count() == 1


def test_unknown_member_is_invalid_value_and_stores_nothing(scim, people):
    group = GroupFactory(name="Sales")
    ops = [
        {"op": "replace", "path": "displayName", "value": "Renamed"},
        {
            "op": "add",
            "path": "members",
            "value": [{"value": str(people[0].pk)}, {"value": "999999"}],
        },
    ]
    assert_scim_error(
        scim.patch(f"Groups/{group.pk}", {"schemas": [PATCH_OP], "Operations": ops}),
        400,
        "invalidValue",
    )
    group.refresh_from_db()
    assert (group.name, member_ids(group)) == ("Sales", set())
    assert not AuditEntry.objects.filter(object_type="group").exists()
