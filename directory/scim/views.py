"""The SCIM 2.0 endpoints under /scim/v2/: discovery, Users and Groups.

- Authentication: `Authorization: Bearer <SCIM token>` (manage.py create_scim_token); gateway API
  keys are refused. No session, so no CSRF.
- Every answer is application/scim+json; every error is SCIM's error object, never an HTML page.
- DELETE of a User deactivates the person (their requests and decisions keep pointing at them);
  the resource stays readable with `active: false`. DELETE of a Group deletes it.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from directory.models import Group, Person, ScimToken
from directory.scim import discovery, groups, users
from directory.scim.errors import ScimError, error_response, scim_response
from directory.scim.filters import paging, parse_eq_filter
from directory.scim.paths import parse_patch
from directory.scim.services import CHANNEL, scim_group_delete, scim_group_save, scim_user_save
from directory.services import person_deactivate, scim_token_authenticate

logger = logging.getLogger(__name__)
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
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


def _pk(raw: str, what: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise ScimError(404, f"No {what} has the id {raw[:40]!r}.")
    return int(raw)


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


@scim_endpoint("GET")
def service_provider_config(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """What this SCIM server supports."""
    return scim_response(discovery.service_provider_config(request.build_absolute_uri("/scim/v2/")))


@scim_endpoint("GET")
def resource_types(request: HttpRequest, token: ScimToken, name: str = "") -> HttpResponse:
    """User and Group."""
    found = discovery.resource_types(request.build_absolute_uri("/scim/v2/"))
    if not name:
        return _list(found, len(found), 1)
    match = [r for r in found if r["id"] == name]
    if not match:
        raise ScimError(404, f"No resource type {name[:40]!r}.")
    return scim_response(match[0])


@scim_endpoint("GET")
def schemas(request: HttpRequest, token: ScimToken, urn: str = "") -> HttpResponse:
    """The User and Group schemas."""
    found = discovery.schemas(request.build_absolute_uri("/scim/v2/"))
    if not urn:
        return _list(found, len(found), 1)
    match = [s for s in found if s["id"] == urn]
    if not match:
        raise ScimError(404, f"No schema {urn[:100]!r}.")
    return scim_response(match[0])


# Users ----------------------------------------------------------------------------------


def _user_location(request: HttpRequest, pk: int) -> str:
    return request.build_absolute_uri(reverse("scim:user", args=[pk]))


def _user(pk: str) -> Person:
    person = Person.objects.filter(pk=_pk(pk, "user")).first()
    if person is None:
        raise ScimError(404, f"No user has the id {pk[:40]!r}.")
    return person


@scim_endpoint("GET", "POST")
def users_view(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """GET lists users (filter, startIndex, count); POST creates one (201)."""
    if request.method == "POST":
        person = scim_user_save(
            person=None, draft=users.draft_from_resource(_body(request)), token=token
        )
        response = scim_response(
            users.user_resource(person, _user_location(request, person.pk)), 201
        )
        response["Location"] = _user_location(request, person.pk)
        return response
    people = Person.objects.order_by("id")
    found = parse_eq_filter(request.GET.get("filter", ""), users.FILTERS)
    if found is not None:
        people = people.filter(**{found[0]: found[1]})
    start, count = paging(request.GET)
    total = people.count()
    page = list(people[start - 1 : start - 1 + count]) if count else []
    resources = [users.user_resource(p, _user_location(request, p.pk)) for p in page]
    return _list(resources, total, start)


@scim_endpoint("GET", "PUT", "PATCH", "DELETE")
def user_view(request: HttpRequest, token: ScimToken, pk: str) -> HttpResponse:
    """One user: read, replace, patch, or deactivate (DELETE)."""
    person = _user(pk)
    if request.method == "DELETE":
        with transaction.atomic():
            locked = Person.objects.select_for_update().get(pk=person.pk)
            person_deactivate(
                person=locked, actor=f"SCIM: {token.name}", channel=CHANNEL, now=timezone.now()
            )
        return HttpResponse(status=204)
    if request.method == "PUT":
        draft = users.draft_from_resource(_body(request))
        person = scim_user_save(person=person, draft=draft, token=token)
    elif request.method == "PATCH":
        draft = users.UserDraft.of(person)
        users.apply_operations(draft, parse_patch(_body(request)))
        person = scim_user_save(person=person, draft=draft, token=token)
    return scim_response(users.user_resource(person, _user_location(request, person.pk)))


# Groups ---------------------------------------------------------------------------------


def _group_location(request: HttpRequest, pk: int) -> str:
    return request.build_absolute_uri(reverse("scim:group", args=[pk]))


def _members_wanted(request: HttpRequest) -> bool:
    excluded = request.GET.get("excludedAttributes", "").lower()
    attributes = request.GET.get("attributes", "").lower()
    return "members" not in excluded and (not attributes or "members" in attributes)


def _group_response(request: HttpRequest, group: Group, *, status: int = 200) -> HttpResponse:
    members = list(group.members.order_by("id").only("id", "name"))
    person_url = request.build_absolute_uri(reverse("scim:users"))
    resource = groups.group_resource(
        group, _group_location(request, group.pk), members, person_url.rstrip("/") + "/"
    )
    return scim_response(resource, status)


def _group(pk: str) -> Group:
    group = Group.objects.filter(pk=_pk(pk, "group")).first()
    if group is None:
        raise ScimError(404, f"No group has the id {pk[:40]!r}.")
    return group


@scim_endpoint("GET", "POST")
def groups_view(request: HttpRequest, token: ScimToken) -> HttpResponse:
    """GET lists groups (filter, startIndex, count, excludedAttributes=members); POST creates."""
    if request.method == "POST":
        group = scim_group_save(
            group=None, draft=groups.draft_from_resource(_body(request)), token=token
        )
        response = _group_response(request, group, status=201)
        response["Location"] = _group_location(request, group.pk)
        return response
    found_groups = Group.objects.order_by("id")
    found = parse_eq_filter(request.GET.get("filter", ""), groups.FILTERS)
    if found is not None:
        found_groups = found_groups.filter(**{found[0]: found[1]})
    start, count = paging(request.GET)
    total = found_groups.count()
    with_members = _members_wanted(request)
    if with_members:
        members = Person.objects.order_by("id").only("id", "name")
        found_groups = found_groups.prefetch_related(Prefetch("members", queryset=members))
    page = list(found_groups[start - 1 : start - 1 + count]) if count else []
    person_url = request.build_absolute_uri(reverse("scim:users")).rstrip("/") + "/"
    resources = [
        groups.group_resource(
            g,
            _group_location(request, g.pk),
            list(g.members.all()) if with_members else None,
            person_url,
        )
        for g in page
    ]
    return _list(resources, total, start)


@scim_endpoint("GET", "PUT", "PATCH", "DELETE")
def group_view(request: HttpRequest, token: ScimToken, pk: str) -> HttpResponse:
    """One group: read, replace, patch (members, displayName; answers 204), delete."""
    group = _group(pk)
    if request.method == "DELETE":
        scim_group_delete(group=group, token=token)
        return HttpResponse(status=204)
    if request.method == "PUT":
        group = scim_group_save(
            group=group, draft=groups.draft_from_resource(_body(request)), token=token
        )
    elif request.method == "PATCH":
        current = set(group.members.values_list("pk", flat=True))
        draft = groups.GroupDraft.of(group, current)
        groups.apply_operations(draft, parse_patch(_body(request)))
        scim_group_save(group=group, draft=draft, token=token)
        return HttpResponse(status=204)  # what Okta and Entra ID expect; a GET shows the members
    return _group_response(request, group)


@scim_endpoint("GET", "POST", "PUT", "PATCH", "DELETE")
def not_found(request: HttpRequest, token: ScimToken, path: str = "") -> HttpResponse:
    """Anything else under /scim/v2/."""
    raise ScimError(404, f"No SCIM endpoint at /scim/v2/{path[:100]}.")
