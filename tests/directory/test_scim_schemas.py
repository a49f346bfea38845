"""SCIM discovery: /Schemas describes every attribute with its RFC 7643 characteristics, and
/Schemas/<id>, /ResourceTypes and ServiceProviderConfig agree with it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
TYPES = {"string", "boolean", "decimal", "integer", "dateTime", "binary", "reference", "complex"}
MUTABILITY = {"readOnly", "readWrite", "immutable", "writeOnly"}
RETURNED = {"always", "never", "default", "request"}
UNIQUENESS = {"none", "server", "global"}


def _walk(attributes: list[dict[str, Any]], parent: str = "") -> Iterator[tuple[str, dict]]:
    for attribute in attributes:
        path = f"{parent}{attribute['name']}"
        yield path, attribute
        yield from _walk(attribute.get("subAttributes", []), f"{path}.")


def _schemas(scim) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in scim.get("Schemas").json()["Resources"]}


def _attributes(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(_walk(schema["attributes"]))


def test_every_attribute_has_its_characteristics_and_complex_ones_their_sub_attributes(scim):
    for schema in _schemas(scim).values():
        for path, attribute in _walk(schema["attributes"]):
            assert attribute["type"] in TYPES, path
            assert isinstance(attribute["multiValued"], bool), path
            assert isinstance(attribute["required"], bool), path
            assert isinstance(attribute["caseExact"], bool), path
            assert attribute["mutability"] in MUTABILITY, path
            assert attribute["returned"] in RETURNED, path
            assert attribute["uniqueness"] in UNIQUENESS, path
            assert attribute["description"], path
            assert (attribute["type"] == "complex") == bool(attribute.get("subAttributes")), path
            assert (attribute["type"] == "reference") == bool(attribute.get("referenceTypes")), path


def test_user_schema_follows_rfc_7643(scim):
    user = _attributes(_schemas(scim)[USER_URN])
    assert set(user) >= {
        "userName",
        "displayName",
        "active",
        *(f"name.{p}" for p in ("formatted", "givenName", "familyName", "middleName")),
        *(f"name.{p}" for p in ("honorificPrefix", "honorificSuffix")),
        *(f"emails.{p}" for p in ("value", "display", "type", "primary")),
        *(f"phoneNumbers.{p}" for p in ("value", "display", "type", "primary")),
        *(f"groups.{p}" for p in ("value", "$ref", "display", "type")),
    }
    assert (user["userName"]["required"], user["userName"]["uniqueness"]) == (True, "server")
    assert user["emails"]["multiValued"] and user["emails.type"]["canonicalValues"] == [
        "work",
        "home",
        "other",
    ]
    assert "mobile" in user["phoneNumbers.type"]["canonicalValues"]
    assert user["emails.primary"]["type"] == user["active"]["type"] == "boolean"
    assert {user[p]["mutability"] for p in user if p.startswith("groups")} == {"readOnly"}
    assert user["groups.$ref"]["referenceTypes"] == ["User", "Group"]
    assert user["groups.type"]["canonicalValues"] == ["direct", "indirect"]


def test_group_schema_follows_rfc_7643(scim):
    group = _attributes(_schemas(scim)[GROUP_URN])
    assert set(group) == {"displayName", "members", "members.value", "members.$ref", "members.type"}
    assert group["displayName"]["required"] is True
    assert (group["members"]["multiValued"], group["members"]["mutability"]) == (True, "readWrite")
    assert {group[f"members.{p}"]["mutability"] for p in ("value", "$ref", "type")} == {"immutable"}
    assert group["members.$ref"]["referenceTypes"] == ["User", "Group"]
    assert group["members.type"]["canonicalValues"] == ["User", "Group"]


def test_one_schema_and_the_resource_types_agree_with_the_list(scim):
    listed = _schemas(scim)
    for urn, schema in listed.items():
        assert scim.get(f"Schemas/{urn}").json() == schema
        assert schema["meta"]["location"].endswith(f"/scim/v2/Schemas/{urn}")
    types = scim.get("ResourceTypes").json()["Resources"]
    assert {t["schema"] for t in types} == set(listed)
    for resource_type in types:
        assert scim.get(f"ResourceTypes/{resource_type['id']}").json() == resource_type
        assert scim.get(resource_type["endpoint"].lstrip("/")).status_code == 200
    assert {listed[t["schema"]]["name"] for t in types} == {t["name"] for t in types}


def test_service_provider_config_declares_what_is_not_supported(scim):
    config = scim.get("ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True
    assert config["filter"]["supported"] is True
    for feature in ("bulk", "sort", "etag", "changePassword"):
        assert config[feature]["supported"] is False, feature
