"""The discovery documents: ServiceProviderConfig, ResourceTypes and (minimal) Schemas."""

from __future__ import annotations

from typing import Any

from directory.scim.groups import GROUP_SCHEMA
from directory.scim.users import USER_SCHEMA


def service_provider_config(base: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": 200},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A token from manage.py create_scim_token NAME.",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base}ServiceProviderConfig",
        },
    }


def resource_types(base: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": name,
            "name": name,
            "endpoint": f"/{name}s",
            "schema": schema,
            "meta": {"resourceType": "ResourceType", "location": f"{base}ResourceTypes/{name}"},
        }
        for name, schema in (("User", USER_SCHEMA), ("Group", GROUP_SCHEMA))
    ]


def _attribute(name: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "multiValued": False,
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
        **extra,
    }


def schemas() -> list[dict[str, Any]]:
    user = [
        _attribute("userName", required=True, uniqueness="server"),
        _attribute("externalId", caseExact=True),
        _attribute(
            "name",
            "complex",
            subAttributes=[_attribute(n) for n in ("formatted", "givenName", "familyName")],
        ),
        _attribute("displayName"),
        _attribute("active", "boolean"),
        _attribute("emails", "complex", multiValued=True),
        _attribute("phoneNumbers", "complex", multiValued=True),
    ]
    group = [
        _attribute("displayName", required=True, uniqueness="server"),
        _attribute("externalId", caseExact=True),
        _attribute("members", "complex", multiValued=True),
    ]
    return [
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": urn,
            "name": name,
            "attributes": attributes,
            "meta": {"resourceType": "Schema"},
        }
        for urn, name, attributes in ((USER_SCHEMA, "User", user), (GROUP_SCHEMA, "Group", group))
    ]
