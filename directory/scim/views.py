"""The SCIM 2.0 endpoints under /scim/v2/: discovery, Users and Groups, and their `.search`.

- Authentication: `Authorization: Bearer <SCIM token>` (manage.py create_scim_token); gateway API
  keys are refused. No session, so no CSRF.
- Every answer is application/scim+json; every error is SCIM's error object, never an HTML page.
- Every answer holding resources honours `attributes` / `excludedAttributes` (selection.py).
- DELETE of a User deletes it as SCIM sees it (404 afterwards) and deactivates the person, who
  stays for the history; DELETE of a Group deletes it.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from directory.models import Group, Person, ScimToken
from directory.scim import discovery, groups, users
from directory.scim.errors import ScimError, error_response, scim_response
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

logger = logging.getLogger(__name__)
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
MAX_BODY_BYTES = 1024 * 1024
Handler = Callable[..., HttpResponse]


def scim_endpoint(*methods: str) -> Callable[[Handler], Handler]:
    """Bearer authentication, the method check, JSON parsing and SCIM error shaping."""

    def wrap(view: Handler) -> Handler:
        @csrf_exempt
        @functools.wraps(view)
        def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                token = _authenticate(request)
                if request.method not in methods:
                    response = error_response(ScimError(405, f"Use {', '.join(methods)}."))
                    response["Allow"] = ", ".join(methods)
                    return response
                return view(request, token, *args, **kwargs)
            except ScimError as error:
                return error_response(error)
            except Exception:
                logger.exception("SCIM error on %s %s", request.method, request.path)
                return error_response(ScimError(500, "Something went wrong; nothing was stored."))

        return endpoint

    return wrap


def _authenticate(request: HttpRequest) -> ScimToken:
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    token = scim_token_authenticate(raw.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        raise ScimError(401, "Send a valid SCIM token: Authorization: Bearer <token>.")
    return token


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


def _page(found: QuerySet, params: Mapping[str, Any]) -> tuple[list[Any], int, int]:
    """(the rows of the page, total, startIndex) of a filtered queryset."""
    start, count = paging(params)
    total = found.count()
    return (list(found[start - 1 : start - 1 + count]) if count else []), total, start


# Discovery ---------------------------------------------------------------------------------


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/scim/v2/")


@scim_endpoint("GET")
def service_provider_config(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """What this SCIM server supports."""
    return scim_response(discovery.service_provider_config(_base(request)))


@scim_endpoint("GET")
def resource_types(request: HttpRequest, token: ScimToken, name: str = "") -> HttpResponse:
    """User and Group."""
    found = discovery.resource_types(_base(request))
    if not name:
        return _list(found, len(found), 1)
    match = [r for r in found if r["id"] == name]
    if not match:
        raise ScimError(404, f"No resource type {name[:40]!r}.")
    return scim_response(match[0])


@scim_endpoint("GET")
def schemas(request: HttpRequest, token: ScimToken, urn: str = "") -> HttpResponse:
    """The User and Group schemas."""
    found = discovery.schemas(_base(request))
    if not urn:
        return _list(found, len(found), 1)
    match = [s for s in found if s["id"] == urn]
    if not match:
        raise ScimError(404, f"No schema {urn[:100]!r}.")
    return scim_response(match[0])


@scim_endpoint("POST")
def search_everything(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """POST /.search across resource types: not supported (RFC 7644 §3.12's 501)."""
    raise ScimError(501, "Search one resource type: POST /Users/.search or /Groups/.search.")


# Users ----------------------------------------------------------------------------------


def _user(pk: str) -> Person:
    person = users.shown_people().filter(pk=_pk(pk, "user")).first()
    if person is None:
        raise ScimError(404, f"No user has the id {pk[:40]!r}.")
    return person


def _user_answer(request: HttpRequest, person: Person, *, status: int = 200) -> HttpResponse:
    selection = selection_from_query(request.GET, USER)
    groups_of = list(person.groups.order_by("id")) if selection.wants("groups") else None
    resource = users.user_resource(person, _urls(request), groups_of)
    response = scim_response(selection.apply(resource, USER), status)
    if status == 201:
        response["Location"] = resource["meta"]["location"]
    return response


def _users_list(
    request: HttpRequest, selection: Selection, params: Mapping[str, Any]
) -> HttpResponse:
    people = users.shown_people()
    condition = parse_eq_filter(str(params.get("filter") or ""), users.FILTERS)
    if condition is not None:
        people = people.filter(condition)
    wants_groups = selection.wants("groups")
    if wants_groups:
        people = people.prefetch_related(
            Prefetch("groups", queryset=Group.objects.order_by("id").only("id", "name"))
        )
    page, total, start = _page(people, params)
    urls = _urls(request)
    resources = [
        users.user_resource(p, urls, list(p.groups.all()) if wants_groups else None) for p in page
    ]
    return _list([selection.apply(r, USER) for r in resources], total, start)


@scim_endpoint("GET", "POST")
def users_view(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """GET lists users (filter, startIndex, count); POST creates one (201)."""
    if request.method == "POST":
        selection_from_query(request.GET, USER)  # a bad selection stores nothing
        draft = users.user_draft(document_from_body(_body(request), USER), active_given=True)
        person = scim_user_save(person=None, draft=draft, token=token)
        return _user_answer(request, person, status=201)
    return _users_list(request, selection_from_query(request.GET, USER), request.GET)


@scim_endpoint("POST")
def users_search(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """POST /Users/.search: a query in the body."""
    body = _search_body(request)
    return _users_list(request, selection_from_search(body, USER), body)


@scim_endpoint("GET", "PUT", "PATCH", "DELETE")
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
    group = Group.objects.filter(pk=_pk(pk, "group")).first()
    if group is None:
        raise ScimError(404, f"No group has the id {pk[:40]!r}.")
    return group


def _group_answer(request: HttpRequest, group: Group, *, status: int = 200) -> HttpResponse:
    selection = selection_from_query(request.GET, GROUP)
    wanted = selection.wants("members")
    members = list(users.shown_people().filter(groups=group).only("id")) if wanted else None
    resource = groups.group_resource(group, _urls(request), members)
    response = scim_response(selection.apply(resource, GROUP), status)
    if status == 201:
        response["Location"] = resource["meta"]["location"]
    return response


def _groups_list(
    request: HttpRequest, selection: Selection, params: Mapping[str, Any]
) -> HttpResponse:
    found = Group.objects.order_by("id")
    condition = parse_eq_filter(str(params.get("filter") or ""), groups.FILTERS)
    if condition is not None:
        found = found.filter(condition)
    with_members = selection.wants("members")
    if with_members:
        shown = users.shown_people().only("id")
        found = found.prefetch_related(Prefetch("members", queryset=shown))
    page, total, start = _page(found, params)
    urls = _urls(request)
    resources = [
        groups.group_resource(g, urls, list(g.members.all()) if with_members else None)
        for g in page
    ]
    return _list([selection.apply(r, GROUP) for r in resources], total, start)


@scim_endpoint("GET", "POST")
def groups_view(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """GET lists groups (filter, startIndex, count); POST creates one (201)."""
    if request.method == "POST":
        selection_from_query(request.GET, GROUP)  # a bad selection stores nothing
        draft = groups.group_draft(document_from_body(_body(request), GROUP))
        group = scim_group_save(group=None, draft=draft, token=token)
        return _group_answer(request, group, status=201)
    return _groups_list(request, selection_from_query(request.GET, GROUP), request.GET)


@scim_endpoint("POST")
def groups_search(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """POST /Groups/.search: a query in the body."""
    body = _search_body(request)
    return _groups_list(request, selection_from_search(body, GROUP), body)


@scim_endpoint("GET", "PUT", "PATCH", "DELETE")
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


@scim_endpoint("GET", "POST", "PUT", "PATCH", "DELETE")
def not_found(request: HttpRequest, token: ScimToken, path: str = "") -> HttpResponse:
    """Anything else under /scim/v2/."""
    raise ScimError(404, f"No SCIM endpoint at /scim/v2/{path[:100]}.")
