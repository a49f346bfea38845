"""The SCIM 2.0 endpoints under /scim/v2/: discovery, Users and Groups, and their `.search`.

- Authentication: `Authorization: Bearer <SCIM token>` (manage.py create_scim_token); gateway API
  keys are refused. No session, so no CSRF.
- Every answer is application/scim+json; every error is SCIM's error object, never an HTML page.
- Every answer holding resources honours `attributes` / `excludedAttributes` (selection.py).
- DELETE of a User deletes it as SCIM sees it (404 afterwards) and deactivates the person, who
  stays for the history; DELETE of a Group deletes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from agenwork.endpoints import BearerApi
from directory.models import Group, Person, ScimToken
from directory.scim import discovery, groups, selectors, users
from directory.scim.errors import ScimError, scim_response
from directory.scim.filters import paging, parse_eq_filter
from directory.scim.patch import document_from_body
from directory.scim.paths import parse_patch
from directory.scim.schema import GROUP, USER
from directory.scim.selection import Selection, selection_from_query, selection_from_search
from directory.scim.services import (
    scim_group_delete,
    scim_group_patch,
    scim_group_save,
    scim_user_delete,
    scim_user_patch,
    scim_user_save,
)
from directory.services import scim_token_authenticate

LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
MAX_BODY_BYTES = 1024 * 1024


SCIM = BearerApi(
    name="SCIM",
    error=ScimError,
    find_caller=scim_token_authenticate,
    unauthorized="Send a valid SCIM token: Authorization: Bearer <token>.",
    authenticate_first=True,
)


def _body(request: HttpRequest) -> Any:
    if len(request.body) > MAX_BODY_BYTES:
        raise ScimError(413, "The body is over 1 MB.")
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ScimError(400, "The body is not valid JSON.", "invalidSyntax") from None


def _search_body(request: HttpRequest) -> dict[str, Any]:
    """A SearchRequest (RFC 7644 §3.4.3): filter, attributes or excludedAttributes, paging."""
    body = _body(request)
    if not isinstance(body, dict):
        raise ScimError(400, f"The body is a SearchRequest ({SEARCH_SCHEMA}).", "invalidSyntax")
    if not isinstance(body.get("filter", ""), str):
        raise ScimError(400, "filter is a string.", "invalidFilter")
    return body


def _pk(raw: str, what: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise ScimError(404, f"No {what} has the id {raw[:40]!r}.")
    return int(raw)


def _urls(request: HttpRequest) -> users.Urls:
    return users.Urls(
        users=request.build_absolute_uri(reverse("scim:users")) + "/",
        groups=request.build_absolute_uri(reverse("scim:groups")) + "/",
    )


def _list(resources: list[dict[str, Any]], total: int, start: int) -> HttpResponse:
    return scim_response(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
    )


# Discovery ---------------------------------------------------------------------------------


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/scim/v2/")


@SCIM.endpoint("GET")
def service_provider_config(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """What this SCIM server supports."""
    return scim_response(discovery.service_provider_config(_base(request)))


@SCIM.endpoint("GET")
def resource_types(request: HttpRequest, token: ScimToken, name: str = "") -> HttpResponse:
    """User and Group."""
    found = discovery.resource_types(_base(request))
    if not name:
        return _list(found, len(found), 1)
    match = [r for r in found if r["id"] == name]
    if not match:
        raise ScimError(404, f"No resource type {name[:40]!r}.")
    return scim_response(match[0])


@SCIM.endpoint("GET")
def schemas(request: HttpRequest, token: ScimToken, urn: str = "") -> HttpResponse:
    """The User and Group schemas."""
    found = discovery.schemas(_base(request))
    if not urn:
        return _list(found, len(found), 1)
    match = [s for s in found if s["id"] == urn]
    if not match:
        raise ScimError(404, f"No schema {urn[:100]!r}.")
    return scim_response(match[0])


@SCIM.endpoint("POST")
def search_everything(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """POST /.search across resource types: not supported (RFC 7644 §3.12's 501)."""
    raise ScimError(501, "Search one resource type: POST /Users/.search or /Groups/.search.")


# Users ----------------------------------------------------------------------------------


def _user(pk: str) -> Person:
    person = selectors.scim_user(_pk(pk, "user"))
    if person is None:
        raise ScimError(404, f"No user has the id {pk[:40]!r}.")
    return person


def _user_answer(request: HttpRequest, person: Person, *, status: int = 200) -> HttpResponse:
    selection = selection_from_query(request.GET, USER)
    groups_of = selectors.user_groups(person) if selection.wants("groups") else None
    resource = users.user_resource(person, _urls(request), groups_of)
    response = scim_response(selection.apply(resource, USER), status)
    if status == 201:
        response["Location"] = resource["meta"]["location"]
    return response


def _users_list(
    request: HttpRequest, selection: Selection, params: Mapping[str, Any]
) -> HttpResponse:
    condition = parse_eq_filter(str(params.get("filter") or ""), users.FILTERS)
    start, count = paging(params)
    wants_groups = selection.wants("groups")
    page = selectors.users_page(condition, with_groups=wants_groups, start=start, count=count)
    urls = _urls(request)
    resources = [
        users.user_resource(p, urls, list(p.groups.all()) if wants_groups else None)
        for p in page.rows
    ]
    return _list([selection.apply(r, USER) for r in resources], page.total, page.start)


@SCIM.endpoint("GET", "POST")
def users_view(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """GET lists users (filter, startIndex, count); POST creates one (201)."""
    if request.method == "POST":
        selection_from_query(request.GET, USER)  # a bad selection stores nothing
        draft = users.user_draft(document_from_body(_body(request), USER), active_given=True)
        person = scim_user_save(person=None, draft=draft, token=token)
        return _user_answer(request, person, status=201)
    return _users_list(request, selection_from_query(request.GET, USER), request.GET)


@SCIM.endpoint("POST")
def users_search(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """POST /Users/.search: a query in the body."""
    body = _search_body(request)
    return _users_list(request, selection_from_search(body, USER), body)


@SCIM.endpoint("GET", "PUT", "PATCH", "DELETE")
def user_view(request: HttpRequest, token: ScimToken, pk: str) -> HttpResponse:
    """One user: read, replace, patch, or delete (the person stays, deactivated)."""
    person = _user(pk)
    if request.method == "DELETE":
        scim_user_delete(person=person, token=token, now=timezone.now())
        return HttpResponse(status=204)
    selection_from_query(request.GET, USER)  # a bad selection stores nothing
    if request.method == "PUT":
        draft = users.user_draft(document_from_body(_body(request), USER), active_given=True)
        person = scim_user_save(person=person, draft=draft, token=token)
    elif request.method == "PATCH":
        person = scim_user_patch(person=person, operations=parse_patch(_body(request)), token=token)
    return _user_answer(request, person)


# Groups ---------------------------------------------------------------------------------


def _group(pk: str) -> Group:
    group = selectors.scim_group(_pk(pk, "group"))
    if group is None:
        raise ScimError(404, f"No group has the id {pk[:40]!r}.")
    return group


def _group_answer(request: HttpRequest, group: Group, *, status: int = 200) -> HttpResponse:
    selection = selection_from_query(request.GET, GROUP)
    members = selectors.group_members(group) if selection.wants("members") else None
    resource = groups.group_resource(group, _urls(request), members)
    response = scim_response(selection.apply(resource, GROUP), status)
    if status == 201:
        response["Location"] = resource["meta"]["location"]
    return response


def _groups_list(
    request: HttpRequest, selection: Selection, params: Mapping[str, Any]
) -> HttpResponse:
    condition = parse_eq_filter(str(params.get("filter") or ""), groups.FILTERS)
    start, count = paging(params)
    with_members = selection.wants("members")
    page = selectors.groups_page(condition, with_members=with_members, start=start, count=count)
    urls = _urls(request)
    resources = [
        groups.group_resource(g, urls, list(g.members.all()) if with_members else None)
        for g in page.rows
    ]
    return _list([selection.apply(r, GROUP) for r in resources], page.total, page.start)


@SCIM.endpoint("GET", "POST")
def groups_view(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """GET lists groups (filter, startIndex, count); POST creates one (201)."""
    if request.method == "POST":
        selection_from_query(request.GET, GROUP)  # a bad selection stores nothing
        draft = groups.group_draft(document_from_body(_body(request), GROUP))
        group = scim_group_save(group=None, draft=draft, token=token)
        return _group_answer(request, group, status=201)
    return _groups_list(request, selection_from_query(request.GET, GROUP), request.GET)


@SCIM.endpoint("POST")
def groups_search(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """POST /Groups/.search: a query in the body."""
    body = _search_body(request)
    return _groups_list(request, selection_from_search(body, GROUP), body)


@SCIM.endpoint("GET", "PUT", "PATCH", "DELETE")
def group_view(request: HttpRequest, token: ScimToken, pk: str) -> HttpResponse:
    """One group: read, replace, patch (204, or 200 with the group when attributes are asked
    for, RFC 7644 §3.5.2), delete."""
    group = _group(pk)
    if request.method == "DELETE":
        scim_group_delete(group=group, token=token)
        return HttpResponse(status=204)
    selection_from_query(request.GET, GROUP)  # a bad selection stores nothing
    if request.method == "PUT":
        draft = groups.group_draft(document_from_body(_body(request), GROUP))
        group = scim_group_save(group=group, draft=draft, token=token)
    elif request.method == "PATCH":
        operations = parse_patch(_body(request))
        group = scim_group_patch(group=group, operations=operations, token=token)
        if not {"attributes", "excludedAttributes"} & set(request.GET):
            return HttpResponse(status=204)  # what Okta and Entra ID expect
    return _group_answer(request, group)


@SCIM.endpoint("GET", "POST", "PUT", "PATCH", "DELETE")
def not_found(request: HttpRequest, token: ScimToken, path: str = "") -> HttpResponse:
    """Anything else under /scim/v2/."""
    raise ScimError(404, f"No SCIM endpoint at /scim/v2/{path[:100]}.")
