"""SCIM attribute selection: `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9).

On one and many resources, on `.search`, and on the answers to POST, PUT and PATCH; always-
returned attributes stay, unknown names are ignored, malformed ones are refused.
"""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from directory.models import Group, Person
from directory.scim.schema import Attribute, ResourceSchema
from directory.scim.selection import selection_from_query
from tests.directory.test_scim_users import OKTA_CREATE, PATCH_OP, USER_SCHEMA, assert_scim_error
from tests.factories import GroupFactory, PersonFactory

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture
def ana_id(scim) -> str:
    return scim.post("Users", OKTA_CREATE).json()["id"]


def test_attributes_keep_id_and_schemas_and_the_named_ones(scim, ana_id):
    body = scim.get(f"Users/{ana_id}", attributes="userName").json()
    assert body == {"schemas": [USER_SCHEMA], "id": ana_id, "userName": "ana.lopez@example.com"}


def test_sub_attributes_full_urns_and_any_case(scim, ana_id):
    names = f"name.GIVENNAME,Emails.Value,{USER_SCHEMA}:displayName"
    body = scim.get(f"Users/{ana_id}", attributes=names).json()
    assert body["name"] == {"givenName": "Ana"}
    assert body["emails"] == [{"value": "ana.lopez@example.com"}]
    assert body["displayName"] == "Ana Lopez"
    assert set(body) == {"schemas", "id", "name", "emails", "displayName"}


def test_excluded_attributes_drop_them_but_never_id_or_schemas(scim, ana_id):
    body = scim.get(f"Users/{ana_id}", excludedAttributes="name,emails.type,meta,id,schemas").json()
    assert {"name", "meta"}.isdisjoint(body)
    assert body["emails"] == [{"primary": True, "value": "ana.lopez@example.com"}]
    assert (body["id"], body["schemas"]) == (ana_id, [USER_SCHEMA])
    assert body["userName"] == "ana.lopez@example.com"


def test_unknown_names_are_ignored(scim, ana_id):
    only_known = scim.get(f"Users/{ana_id}", attributes="nickName,password,name.nothing")
    assert only_known.json() == {"schemas": [USER_SCHEMA], "id": ana_id}
    extension = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
    everything = scim.get(f"Users/{ana_id}", excludedAttributes=f"nickName,{extension}")
    assert everything.json() == scim.get(f"Users/{ana_id}").json()


def test_okta_password_is_never_returned(scim, ana_id):
    for answer in (scim.get(f"Users/{ana_id}"), scim.get(f"Users/{ana_id}", attributes="password")):
        assert "password" not in answer.json()


@pytest.mark.parametrize(
    "params",
    [
        {"attributes": "user name"},
        {"attributes": "name..givenName"},
        {"attributes": "userName,,name"},
        {"excludedAttributes": "name.givenName.x"},
        {"attributes": "1userName"},
        {"attributes": "userName", "excludedAttributes": "name"},
    ],
)
def test_malformed_selections_are_invalid_value_and_store_nothing(scim, ana_id, params):
    assert_scim_error(scim.get(f"Users/{ana_id}", **params), 400, "invalidValue")
    assert_scim_error(scim.get("Users", **params), 400, "invalidValue")
    query = "&".join(f"{k}={v}" for k, v in params.items())
    other = {**OKTA_CREATE, "userName": "ben@example.com", "externalId": "b"}
    assert_scim_error(scim.post(f"Users?{query}", other), 400, "invalidValue")
    rename = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "X"}],
    }
    assert_scim_error(scim.patch(f"Users/{ana_id}?{query}", rename), 400, "invalidValue")
    assert list(Person.objects.values_list("name", flat=True)) == ["Ana Lopez"]
    assert AuditEntry.objects.filter(object_type="person").count() == 1


def test_lists_honour_the_selection(scim, ana_id):
    PersonFactory(email="ben@example.com")
    listed = scim.get("Users", attributes="userName").json()
    assert listed["totalResults"] == 2
    assert [set(r) for r in listed["Resources"]] == [{"schemas", "id", "userName"}] * 2


def test_answers_to_post_put_and_patch_honour_the_selection(scim):
    created = scim.post("Users?attributes=userName", OKTA_CREATE)
    assert created.status_code == 201, created.content
    ana_id = created.json()["id"]
    assert set(created.json()) == {"schemas", "id", "userName"}
    replaced = scim.put(f"Users/{ana_id}?excludedAttributes=emails,meta", OKTA_CREATE)
    assert {"emails", "meta"}.isdisjoint(replaced.json()) and "userName" in replaced.json()
    rename = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Ana L."}],
    }
    patched = scim.patch(f"Users/{ana_id}?attributes=displayName", rename)
    assert patched.json() == {"schemas": [USER_SCHEMA], "id": ana_id, "displayName": "Ana L."}


def test_group_patch_answers_204_or_the_group_when_attributes_are_asked_for(scim):
    person = PersonFactory()
    group = GroupFactory(name="Sales")
    add = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": str(person.pk)}]}],
    }
    assert scim.patch(f"Groups/{group.pk}", add).status_code == 204
    answered = scim.patch(f"Groups/{group.pk}?attributes=members.value", add)
    assert answered.status_code == 200, answered.content
    assert answered.json()["members"] == [{"value": str(person.pk)}]
    created = scim.post("Groups?excludedAttributes=members", {"displayName": "Support"})
    assert created.status_code == 201 and "members" not in created.json()


def test_users_search_filters_pages_and_selects(scim, ana_id):
    PersonFactory(email="ben@example.com")
    body = {
        "schemas": [SEARCH],
        "filter": 'userName eq "ana.lopez@example.com"',
        "attributes": ["userName", "name.familyName"],
        "startIndex": 1,
        "count": 10,
    }
    found = scim.post("Users/.search", body)
    assert found.status_code == 200, found.content
    assert found.json()["totalResults"] == 1
    resource = found.json()["Resources"][0]
    assert resource == {
        "schemas": [USER_SCHEMA],
        "id": ana_id,
        "userName": "ana.lopez@example.com",
        "name": {"familyName": "Lopez"},
    }
    everyone = scim.post("Users/.search", {"schemas": [SEARCH], "count": 1}).json()
    assert (everyone["totalResults"], everyone["itemsPerPage"]) == (2, 1)


def test_groups_search_leaves_out_members(scim):
    group = GroupFactory(name="Sales")
    group.members.add(PersonFactory())
    body = {"schemas": [SEARCH], "excludedAttributes": ["members"]}
    found = scim.post("Groups/.search", body).json()
    assert [r["displayName"] for r in found["Resources"]] == ["Sales"]
    assert "members" not in found["Resources"][0]


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        ([], "invalidSyntax"),
        ({"attributes": "userName"}, None),  # one name as a string is read as a list of one
        ({"attributes": [1]}, "invalidSyntax"),
        ({"attributes": ["userName"], "excludedAttributes": ["name"]}, "invalidValue"),
        ({"filter": 3}, "invalidFilter"),
        ({"filter": 'title eq "x"'}, "invalidFilter"),
        ({"count": "many"}, "invalidValue"),
        ({"startIndex": [1]}, "invalidValue"),
    ],
)
def test_bad_searches_are_400(scim, ana_id, body, scim_type):
    answer = scim.post("Users/.search", body)
    if scim_type is None:
        assert answer.status_code == 200
        return
    assert_scim_error(answer, 400, scim_type)


def test_searching_every_resource_type_at_once_is_501(scim, ana_id):
    assert_scim_error(scim.post(".search", {"schemas": [SEARCH]}), 501)
    assert scim.get("Users/.search").status_code == 405


def test_lists_read_a_fixed_number_of_queries(scim, django_assert_num_queries):
    groups = [GroupFactory(name=f"G{i}") for i in range(3)]
    for person in PersonFactory.create_batch(6):
        person.groups.add(*groups)
    scim.get("ServiceProviderConfig")  # the token's last use is recorded once a minute at most
    # The token, then the count, the page and the groups (Users) or members (Groups) of it.
    with django_assert_num_queries(4):
        users = scim.get("Users").json()
    assert len(users["Resources"]) == 6 and len(users["Resources"][0]["groups"]) == 3
    with django_assert_num_queries(4):
        listed = scim.get("Groups").json()
    assert [len(r["members"]) for r in listed["Resources"]] == [6, 6, 6]
    with django_assert_num_queries(3):  # members left out: not read
        scim.get("Groups", excludedAttributes="members")
    assert Group.objects.count() == 3


def test_returned_characteristics_decide_what_comes_back():
    schema = ResourceSchema(
        "urn:example:Thing",
        "Thing",
        "",
        (
            Attribute("always", returned="always"),
            Attribute("never", returned="never"),
            Attribute("request", returned="request"),
            Attribute("plain"),
        ),
    )
    thing = {"schemas": ["urn:example:Thing"], "id": "1", "always": 1, "never": 2, "request": 3}
    thing["plain"] = 4

    def answer(**params: str) -> set[str]:
        return set(selection_from_query(params, schema).apply(thing, schema))

    assert answer() == {"schemas", "id", "always", "plain"}
    assert answer(attributes="never,request") == {"schemas", "id", "always", "request"}
    assert answer(excludedAttributes="always,plain") == {"schemas", "id", "always"}
