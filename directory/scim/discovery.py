"""The discovery documents: ServiceProviderConfig, ResourceTypes and Schemas (RFC 7644 §4).

- What agenwork does not support is declared so: bulk, sort, ETags, changePassword.
"""

from __future__ import annotations

from typing import Any

from directory.scim.schema import SCHEMAS


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
            "id": schema.name,
            "name": schema.name,
            "description": schema.description,
            "endpoint": f"/{schema.name}s",
            "schema": schema.urn,
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{base}ResourceTypes/{schema.name}",
            },
        }
        for schema in SCHEMAS
    ]


def schemas(base: str) -> list[dict[str, Any]]:
    return [schema.as_json(f"{base}Schemas/{schema.urn}") for schema in SCHEMAS]
