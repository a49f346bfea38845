"""The connector catalog shipped with agenwork (catalog.json): reading and checking it.

The file is data, not code: `{"version": 1, "connectors": [{"slug", "name", "icon"?, "tools":
[{"key", "description"?}]}]}`. Every tool key starts with its connector's slug and an underscore.
Writing it to the database is `services.catalog_load`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).with_name("catalog.json")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class CatalogError(ValueError):
    """The catalog file cannot be used; the message says why in one line."""


@dataclass(frozen=True)
class CatalogTool:
    """One tool as the catalog describes it."""

    key: str
    description: str


@dataclass(frozen=True)
class CatalogConnector:
    """One connector as the catalog describes it."""

    slug: str
    name: str
    icon: str
    tools: tuple[CatalogTool, ...]


def read_catalog(path: Path = CATALOG_PATH) -> tuple[CatalogConnector, ...]:
    """The catalog's connectors; CatalogError when the file is missing, not JSON or malformed."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("connectors"), list):
        raise CatalogError(f'{path} must be an object with a "connectors" list')
    connectors = tuple(_connector(entry, n) for n, entry in enumerate(data["connectors"], 1))
    slugs = [connector.slug for connector in connectors]
    duplicates = sorted({slug for slug in slugs if slugs.count(slug) > 1})
    if duplicates:
        raise CatalogError(f"connector slug listed twice: {', '.join(duplicates)}")
    return connectors


def _text(entry: dict[str, Any], field: str, where: str, *, required: bool, limit: int) -> str:
    value = entry.get(field, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise CatalogError(f'{where}: "{field}" must be a non-empty string')
    if len(value) > limit:
        raise CatalogError(f'{where}: "{field}" is longer than {limit} characters')
    return value.strip()


def _connector(entry: Any, number: int) -> CatalogConnector:
    where = f"connector #{number}"
    if not isinstance(entry, dict):
        raise CatalogError(f"{where} must be an object")
    slug = _text(entry, "slug", where, required=True, limit=100)
    if not SLUG.match(slug):
        raise CatalogError(f"{where}: slug “{slug}” must be lower-case letters, digits and dashes")
    where = f"connector “{slug}”"
    name = _text(entry, "name", where, required=True, limit=200)
    icon = _text(entry, "icon", where, required=False, limit=100) or slug
    if not SLUG.match(icon):
        raise CatalogError(f"{where}: icon “{icon}” must be lower-case letters, digits and dashes")
    tools = entry.get("tools")
    if not isinstance(tools, list) or not tools:
        raise CatalogError(f'{where}: "tools" must be a non-empty list')
    parsed = tuple(_tool(tool, slug, where) for tool in tools)
    keys = [tool.key for tool in parsed]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise CatalogError(f"{where}: tool listed twice: {', '.join(duplicates)}")
    return CatalogConnector(slug=slug, name=name, icon=icon, tools=parsed)


def _tool(entry: Any, slug: str, where: str) -> CatalogTool:
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: every tool must be an object")
    key = _text(entry, "key", where, required=True, limit=200)
    if not key.startswith(f"{slug}_") or not KEY.match(key):
        raise CatalogError(f"{where}: tool key “{key}” must look like {slug}_<resource>_<verb>")
    description = _text(entry, "description", f"tool “{key}”", required=False, limit=500)
    return CatalogTool(key=key, description=description)
