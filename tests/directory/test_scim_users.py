"""SCIM Users as Okta and Microsoft Entra ID send them: create, list, filter, patch, deactivate."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from directory.models import Person
from tests.factories import GroupFactory, PersonFactory

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

# What Okta sends when it provisions a user (Okta SCIM 2.0 reference).
OKTA_CREATE = {
    "schemas": [USER_SCHEMA],
    "userName": "ana.lopez@example.com",
    "name": {"givenName": "Ana", "familyName": "Lopez"},
    "emails": [{"primary": True, "value": "ana.lopez@example.com", "type": "work"}],
    "displayName": "Ana Lopez",
    "locale": "en-US",
    "externalId": "00u1abcdEFGHijkl0x7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}
OKTA_DEACTIVATE = {
    "schemas": [PATCH_OP],
    "Operations": [{"op": "replace", "value": {"active": False}}],
}
# What Entra ID sends (its SCIM validator's shapes: enterprise extension, capitalised ops).
ENTRA_CREATE = {
    "schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7b2c3e9a4c11",
    "userName": "Ben.Kim@contoso.com",
    "active": True,
    "emails": [{"primary": True, "type": "work", "value": "ben.kim@contoso.com"}],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "Ben Kim", "familyName": "Kim", "givenName": "Ben"},
    "phoneNumbers": [{"type": "mobile", "value": "+1 (555) 010-0200"}],
    "roles": [],
    "title": "Account executive",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
        "department": "Sales",
        "manager": {"value": "7f7e5a3c"},
    },
}
ENTRA_PATCH = {
    "schemas": [PATCH_OP],
    "Operations": [
        {"op": "Replace", "path": "name.givenName", "value": "Benjamin"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ben.kim@contoso.com"},
        {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+15550100300"},
        {"op": "Replace", "path": "externalId", "value": "0a21f0f2-changed"},
        {
            "op": "Add",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "value": "Marketing",
        },
    ],
}
ENTRA_DISABLE = {
    "schemas": [PATCH_OP],
    "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
}


def assert_scim_error(response, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert body["detail"]
    if scim_type:
        assert body["scimType"] == scim_type
    return body


def test_okta_create_returns_201_with_the_resource_and_location(scim):
    response = scim.post("Users", OKTA_CREATE)
    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    person = Person.objects.get()
    assert body["id"] == str(person.pk)
    assert response["Location"].endswith(f"/scim/v2/Users/{person.pk}")
    assert body["userName"] == "ana.lopez@example.com"
    assert body["active"] is True
    assert body["externalId"] == "00u1abcdEFGHijkl0x7"
    assert (person.name, person.external_id) == ("Ana Lopez", "00u1abcdEFGHijkl0x7")
    entry = AuditEntry.objects.get(object_type="person")
    assert (entry.channel, entry.action, entry.actor_name) == ("scim", "created", "SCIM: okta")


def test_entra_create_reads_names_and_phone_and_ignores_extensions(scim):
    response = scim.post("Users", ENTRA_CREATE)
    assert response.status_code == 201, response.content
    person = Person.objects.get()
    assert person.email == "ben.kim@contoso.com"
    assert person.name == "Ben Kim"
    assert person.phone == "+15550100200"  # E.164, for SMS approvals
    assert response.json()["phoneNumbers"] == ENTRA_CREATE["phoneNumbers"]  # as Entra sent it


def test_duplicate_user_name_is_409_uniqueness_and_stores_nothing(scim):
    scim.post("Users", OKTA_CREATE)
    again = {**OKTA_CREATE, "userName": "ANA.LOPEZ@example.com", "externalId": "other"}
    assert_scim_error(scim.post("Users", again), 409, "uniqueness")
    same_external = {**OKTA_CREATE, "userName": "someone@example.com"}
    assert_scim_error(scim.post("Users", same_external), 409, "uniqueness")
    assert Person.objects.count() == 1
    assert AuditEntry.objects.filter(object_type="person").count() == 1


def test_filter_by_user_name_and_external_id(scim):
    scim.post("Users", OKTA_CREATE)
    scim.post("Users", ENTRA_CREATE)
    found = scim.get("Users", filter='userName eq "ben.kim@contoso.com"').json()
    assert found["totalResults"] == 1
    assert found["Resources"][0]["userName"] == "Ben.Kim@contoso.com"  # as Entra sent it
    assert found["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    by_external = scim.get("Users", filter='externalId eq "00u1abcdEFGHijkl0x7"').json()
    assert [r["userName"] for r in by_external["Resources"]] == ["ana.lopez@example.com"]
    none = scim.get("Users", filter='userName eq "nobody@example.com"').json()
    assert (none["totalResults"], none["Resources"]) == (0, [])


def test_paging_with_start_index_and_count(scim):
    people = [PersonFactory() for _ in range(5)]
    page = scim.get("Users", startIndex=2, count=2).json()
    assert page["totalResults"] == 5
    assert (page["startIndex"], page["itemsPerPage"]) == (2, 2)
    assert [r["id"] for r in page["Resources"]] == [str(p.pk) for p in people[1:3]]
    assert scim.get("Users", count=0).json()["Resources"] == []


@pytest.mark.parametrize(
    "bad_filter",
    ['userName co "ana"', 'title eq "x"', "userName eq ana", 'userName eq "a" and active eq true'],
)
def test_unsupported_filters_are_invalid_filter(scim, bad_filter):
    assert_scim_error(scim.get("Users", filter=bad_filter), 400, "invalidFilter")


def test_get_one_user_and_404s(scim):
    person = PersonFactory(name="Lee Park", email="lee@example.com")
    body = scim.get(f"Users/{person.pk}").json()
    assert body["name"] == {"formatted": "Lee Park", "givenName": "Lee", "familyName": "Park"}
    assert body["meta"]["resourceType"] == "User"
    assert_scim_error(scim.get("Users/999999"), 404)
    assert_scim_error(scim.get("Users/not-a-number"), 404)
    assert_scim_error(scim.get("Nothing/here"), 404)


def test_okta_deactivate_then_reactivate_keeps_an_admin_lock(scim):
    person = Person.objects.get(pk=scim.post("Users", OKTA_CREATE).json()["id"])
    Person.objects.filter(pk=person.pk).update(status=Person.Status.LOCKED)
    response = scim.patch(f"Users/{person.pk}", OKTA_DEACTIVATE)
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    person.refresh_from_db()
    assert person.deactivated_at is not None
    reactivate = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "value": {"active": True}}],
    }
    assert scim.patch(f"Users/{person.pk}", reactivate).json()["active"] is True
    person.refresh_from_db()
    assert person.deactivated_at is None
    assert person.status == Person.Status.LOCKED  # the IdP never lifts an admin's lock


def test_entra_patch_with_paths_and_capitalised_ops(scim):
    person_id = scim.post("Users", ENTRA_CREATE).json()["id"]
    response = scim.patch(f"Users/{person_id}", ENTRA_PATCH)
    assert response.status_code == 200, response.content
    person = Person.objects.get(pk=person_id)
    assert person.name == "Benjamin Kim"
    assert person.phone == "+15550100300"
    assert person.external_id == "0a21f0f2-changed"
    disabled = scim.patch(f"Users/{person_id}", ENTRA_DISABLE)
    assert disabled.json()["active"] is False


def test_okta_put_replaces_the_user(scim):
    person_id = scim.post("Users", OKTA_CREATE).json()["id"]
    replaced = {**OKTA_CREATE, "id": person_id, "name": {"givenName": "Ana", "familyName": "Ruiz"}}
    replaced["displayName"] = "Ana Ruiz"
    response = scim.put(f"Users/{person_id}", replaced)
    assert response.status_code == 200, response.content
    assert Person.objects.get(pk=person_id).name == "Ana Ruiz"


def test_delete_hides_the_user_from_scim_and_the_person_stays_deactivated(scim):
    person_id = scim.post("Users", OKTA_CREATE).json()["id"]
    group = GroupFactory(name="Sales")
    group.members.add(person_id)
    assert scim.delete(f"Users/{person_id}").status_code == 204
    person = Person.objects.get(pk=person_id)
    assert person.deactivated_at is not None and person.scim_deleted_at is not None
    assert not group.members.exists()
    for answer in (scim.get(f"Users/{person_id}"), scim.delete(f"Users/{person_id}")):
        assert_scim_error(answer, 404)  # RFC 7644 §3.6: every operation on it is a 404
    assert scim.get("Users").json()["totalResults"] == 0
    found = scim.get("Users", filter='userName eq "ana.lopez@example.com"').json()
    assert found["totalResults"] == 0
    entry = AuditEntry.objects.filter(object_type="person").latest("id")
    assert (entry.action, entry.channel, entry.before["group_ids"]) == (
        "deleted",
        "scim",
        [group.pk],
    )


def test_a_deleted_user_created_again_is_the_same_person_back(scim):
    person_id = scim.post("Users", OKTA_CREATE).json()["id"]
    scim.delete(f"Users/{person_id}")
    again = scim.post("Users", {**OKTA_CREATE, "displayName": "Ana López"})
    assert again.status_code == 201, again.content
    assert again.json()["id"] == person_id
    person = Person.objects.get(pk=person_id)
    assert (person.name, person.deactivated_at, person.scim_deleted_at) == ("Ana López", None, None)
    assert Person.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        (
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "active", "value": "maybe"}],
            },
            "invalidValue",
        ),
        (
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "jump", "path": "active", "value": True}],
            },
            "invalidSyntax",
        ),
        ({"schemas": [PATCH_OP]}, "invalidSyntax"),
        (
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "name[[", "value": 1}],
            },
            "invalidPath",
        ),
        (
            {
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "replace", "path": "userName", "value": "not-an-email"},
                    {"op": "remove", "path": "emails"},
                ],
            },
            "invalidValue",
        ),
        (
            {
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "replace", "path": "name.givenName", "value": "Changed"},
                    {"op": "replace", "path": "active", "value": 3},
                ],
            },
            "invalidValue",
        ),
    ],
)
def test_bad_patches_are_400_and_store_nothing(scim, body, scim_type):
    person_id = scim.post("Users", OKTA_CREATE).json()["id"]
    before = list(Person.objects.values())
    audits = AuditEntry.objects.count()
    assert_scim_error(scim.patch(f"Users/{person_id}", body), 400, scim_type)
    assert list(Person.objects.values()) == before
    assert AuditEntry.objects.count() == audits


@pytest.mark.parametrize(
    "raw",
    ["{not json", '"a string"', '{"schemas": []}', '{"userName": "no-at-sign"}'],
)
def test_bad_creates_are_400_and_store_nothing(scim, raw):
    response = scim.post("Users", raw=raw)
    assert_scim_error(response, 400)
    assert Person.objects.count() == 0
    assert not AuditEntry.objects.filter(object_type="person").exists()
