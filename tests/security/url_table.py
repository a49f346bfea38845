"""THE table of every URL of agenwork: who may GET and POST it, and what each role gets back.

The security tests walk Django's URL resolver and fail for a URL pattern that has no entry here.
When you add a page, add one line to ROUTES, keyed by its full route as the resolver spells it
(e.g. "connectors/<int:pk>/edit/"), with a helper that says who may use it:

- `admin_page(get=200, post=405)` — admins only; others 403, anonymous → login.
- `approver_page(...)` — Dashboard and Requests: admins and approvers; outsiders 403.
- `request_page(...)` — one request: its approvers and admins; another flow's approver 404.
- `api(...)` — Bearer key, no session: every console role gets the same answer; CSRF-exempt.
- `scim(...)` — SCIM's own Bearer token, no session: every console role gets 401; CSRF-exempt.
- `action(...)` around any of them — its POST may change data (every other POST must not).
- `signed_webhook()` — Twilio: POST only, signature instead of a session; CSRF-exempt.
- `public(...)` — anyone, logged in or not.

A route with parameters also says how to build a concrete URL from the `World` of
tests/security/world.py (`url=lambda w: ...`; add the object there if it is new). Anything else
(/healthz) can be a plain `Route(get=roles(...), post=...)`;
a route authenticated by a token or a signature instead of a session sets `csrf_exempt=True`
and is listed in EXEMPT_BY_DESIGN of tests/security/test_csrf.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from django.urls import URLPattern, URLResolver, get_resolver

from tests.security.world import ROLES, World


@dataclass(frozen=True)
class Redirect:
    """A 302 to a page whose path starts with `to`."""

    to: str


LOGIN = Redirect("/accounts/login/")
MY_PAGE = Redirect("/me/")  # the Dashboard sends a person who decides nothing to My agents
# The identity provider's authorization endpoint: the tests' provider listens on 127.0.0.1
# (tests/support/identity_provider.py), the console on the test client's `testserver`.
PROVIDER = Redirect("http://127.0.0.1:")
ADMIN_LOGIN = Redirect("/admin/login/")
Expected = int | Redirect
Answers = dict[str, Expected]


@dataclass(frozen=True)
class Route:
    """What each role gets for GET and POST at one URL pattern."""

    get: Answers
    post: Answers
    url: Callable[[World], str] | None = None
    csrf_exempt: bool = False  # authenticated by a Bearer key or a signature, not a session
    acts: bool = False  # its POST may change data; a POST to any other URL changes nothing
    with_valid_key: Answers = field(default_factory=dict)  # the gateway API, by method
    with_scim_token: Answers = field(default_factory=dict)  # SCIM, by method


def action(route: Route) -> Route:
    """A URL whose POST acts (creates, decides, changes, deletes)."""
    return replace(route, acts=True)


def roles(
    anonymous: Expected, outsider: Expected, approver: Expected, other: Expected, admin: Expected
) -> Answers:
    """The answer for each role, in the order of ROLES (other: another flow's approver)."""
    answers = (anonymous, outsider, approver, other, admin)
    return dict(zip(ROLES, answers, strict=True))


def admin_page(get: Expected = 200, post: Expected = 405, url=None) -> Route:
    return Route(roles(LOGIN, 403, 403, 403, get), roles(LOGIN, 403, 403, 403, post), url)


def approver_page(get: Expected = 200, post: Expected = 405) -> Route:
    return Route(roles(LOGIN, 403, get, get, get), roles(LOGIN, 403, post, post, post))


def request_page(get: Answers, post: Answers, url) -> Route:
    return Route(get, post, url)


def api(get: Expected, post: Expected, url=None, *, valid_key: Answers) -> Route:
    """The gateway API: a console session is no key, so every role gets the same answer;
    `valid_key` is what a call with a valid Bearer key gets, by method."""
    return Route(
        roles(*[get] * 5), roles(*[post] * 5), url, csrf_exempt=True, with_valid_key=valid_key
    )


def scim(url=None, *, valid_token: Answers) -> Route:
    """SCIM: its own Bearer token before anything else, so every console role (a session is no
    token) gets 401 for any method or URL; `valid_token` is what a valid SCIM token gets."""
    return Route(
        roles(*[401] * 5), roles(*[401] * 5), url, csrf_exempt=True, with_scim_token=valid_token
    )


def signed_webhook() -> Route:
    """Twilio's callbacks: GET is 405; a POST without a signature is 403 for everyone."""
    return Route(roles(*[405] * 5), roles(*[403] * 5), csrf_exempt=True, acts=True)


def oauth_endpoint(get: Expected, post: Expected, url=None) -> Route:
    """An OAuth protocol endpoint for agents: the same answer for every role; CSRF-exempt."""
    return Route(roles(*[get] * 5), roles(*[post] * 5), url, csrf_exempt=True)


def public(get: Answers, post: Answers, url=None) -> Route:
    return Route(get, post, url)


def _request(suffix: str = ""):
    return lambda w: f"/requests/{w.access_request.public_id}/{suffix}"


def _api_request(suffix: str):
    return lambda w: f"/api/v1/requests/{w.api_request.public_id}{suffix}"


def _connector(suffix: str = ""):
    return lambda w: f"/connectors/{w.connector.slug}/{suffix}"


def _tool(suffix: str):
    return lambda w: f"/connectors/{w.connector.slug}/tools/{w.tool.pk}/{suffix}"


def _tokens(suffix):
    """A URL of the person's gateway tokens; `suffix` may depend on the world."""
    return lambda w: (
        f"/users/{w.person.pk}/gateway-tokens/{suffix(w) if callable(suffix) else suffix}"
    )


SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"

# Answers that are the same for everyone and may be kept (README, Deployment), with their
# max-age; every other answer, errors included, is `Cache-Control: no-store`.
CACHEABLE = {"api/v1/openapi.json": 3600, "api/v1/docs/": 3600, "favicon.ico": 86400}

ROUTES: dict[str, Route] = {
    # Dashboard and Activity
    "": Route(roles(LOGIN, MY_PAGE, 200, 200, 200), roles(LOGIN, 405, 405, 405, 405)),
    # A person's own page: every login (an admin who is no person is told so)
    "me/": Route(roles(LOGIN, 200, 200, 200, 200), roles(LOGIN, 405, 405, 405, 405)),
    # Revoke on it: one's own connected agent or gateway token only; another's is not found
    # (an agent not connected for you: back to My agents); an admin who is no person: 404
    "me/agents/<int:application_pk>/revoke/": Route(
        roles(LOGIN, MY_PAGE, MY_PAGE, MY_PAGE, 404),
        roles(LOGIN, MY_PAGE, MY_PAGE, MY_PAGE, 404),
        url=lambda w: "/me/agents/999999/revoke/",
    ),
    "me/tokens/<int:token_pk>/revoke/": Route(
        roles(LOGIN, 404, 404, 404, 404),
        roles(LOGIN, 404, 404, 404, 404),
        url=lambda w: f"/me/tokens/{w.gateway_token.token.pk}/revoke/",
    ),
    "activity/": Route(roles(LOGIN, 403, 403, 403, 200), roles(*[405] * 5)),
    "activity/export.csv": Route(roles(LOGIN, 403, 403, 403, 200), roles(*[405] * 5)),
    # Requests
    "requests/": Route(roles(LOGIN, 403, 200, 200, 200), roles(LOGIN, 405, 405, 405, 405)),
    "requests/bulk/": action(
        Route(roles(LOGIN, 405, 405, 405, 405), roles(LOGIN, 403, 400, 400, 400))
    ),
    "requests/<uuid:public_id>/": request_page(
        get=roles(LOGIN, 403, 200, 404, 200), post=roles(LOGIN, 405, 405, 405, 405), url=_request()
    ),
    "requests/<uuid:public_id>/approve/": action(
        request_page(
            get=roles(LOGIN, 405, 405, 405, 405),
            post=roles(LOGIN, 403, 400, 404, 400),
            url=_request("approve/"),
        )
    ),
    "requests/<uuid:public_id>/deny/": action(
        request_page(
            get=roles(LOGIN, 405, 405, 405, 405),
            post=roles(LOGIN, 403, 302, 404, 302),
            url=_request("deny/"),
        )
    ),
    "requests/<uuid:public_id>/create-policy/": action(
        request_page(
            get=roles(LOGIN, 403, 403, 404, 200),
            post=roles(LOGIN, 403, 403, 404, 400),
            url=_request("create-policy/"),
        )
    ),
    # Policies
    "policies/": admin_page(),
    "policies/new/": action(admin_page(post=400)),
    "policies/simulate/": admin_page(),
    "policies/preview/": action(admin_page(get=405, post=400)),
    "policies/tools/": admin_page(),
    "policies/<int:pk>/": admin_page(url=lambda w: f"/policies/{w.policy.pk}/"),
    "policies/<int:pk>/edit/": action(
        admin_page(post=400, url=lambda w: f"/policies/{w.policy.pk}/edit/")
    ),
    "policies/<int:pk>/delete/": action(
        admin_page(post=302, url=lambda w: f"/policies/{w.policy.pk}/delete/")
    ),
    # Approval flows
    "approval-flows/": admin_page(),
    "approval-flows/new/": action(admin_page(post=400)),
    "approval-flows/<int:pk>/": admin_page(url=lambda w: f"/approval-flows/{w.flow.pk}/"),
    "approval-flows/<int:pk>/edit/": action(
        admin_page(post=400, url=lambda w: f"/approval-flows/{w.flow.pk}/edit/")
    ),
    "approval-flows/<int:pk>/delete/": action(
        admin_page(post=409, url=lambda w: f"/approval-flows/{w.flow.pk}/delete/")
    ),
    # Connectors: the list and a connector's page are read-only; its switches and forms act
    "connectors/": admin_page(),
    "connectors/<slug:slug>/": admin_page(url=_connector()),
    "connectors/<slug:slug>/enabled/": action(
        admin_page(get=405, post=400, url=_connector("enabled/"))
    ),
    "connectors/<slug:slug>/credentials/": action(
        admin_page(get=405, post=400, url=_connector("credentials/"))
    ),
    "connectors/<slug:slug>/tools/<int:pk>/enabled/": action(
        admin_page(get=405, post=400, url=_tool("enabled/"))
    ),
    "connectors/<slug:slug>/tools/<int:pk>/access/": action(
        admin_page(get=405, post=400, url=_tool("access/"))
    ),
    # A connector's upstream (mcp_gateway): the panel and its URL form; Sync tools. The world's
    # connector has no upstream: an empty form changes nothing, Sync tools is refused (400).
    "connectors/<slug:slug>/upstream/": action(admin_page(post=302, url=_connector("upstream/"))),
    "connectors/<slug:slug>/upstream/sync/": action(
        admin_page(get=405, post=400, url=_connector("upstream/sync/"))
    ),
    # Users: the Users and Groups tabs and their panels are read-only; Lock and Unlock act
    "users/": admin_page(),
    "users/<int:pk>/": admin_page(url=lambda w: f"/users/{w.person.pk}/"),
    "users/<int:pk>/lock/": action(
        admin_page(get=405, post=302, url=lambda w: f"/users/{w.person.pk}/lock/")
    ),
    "users/<int:pk>/unlock/": action(
        admin_page(get=405, post=302, url=lambda w: f"/users/{w.person.pk}/unlock/")
    ),
    # A person's gateway tokens (mcp_gateway): the section, Create (an empty form: a token that
    # never expires, shown once), Revoke (GET asks to confirm, POST revokes)
    "users/<int:pk>/gateway-tokens/": admin_page(url=_tokens("")),
    "users/<int:pk>/gateway-tokens/new/": action(
        admin_page(get=405, post=200, url=_tokens("new/"))
    ),
    "users/<int:pk>/gateway-tokens/<int:token_pk>/revoke/": action(
        admin_page(post=302, url=_tokens(lambda w: f"{w.gateway_token.token.pk}/revoke/"))
    ),
    "users/groups/": admin_page(),
    "users/groups/<int:pk>/": admin_page(url=lambda w: f"/users/groups/{w.group.pk}/"),
    # Settings → API keys
    "settings/api-keys/": admin_page(),
    "settings/api-keys/new/": action(admin_page(post=400)),
    "settings/api-keys/<int:pk>/": admin_page(
        url=lambda w: f"/settings/api-keys/{w.issued.api_key.pk}/"
    ),
    "settings/api-keys/<int:pk>/revoke/": action(
        admin_page(post=302, url=lambda w: f"/settings/api-keys/{w.issued.api_key.pk}/revoke/")
    ),
    "settings/api-keys/<int:pk>/webhook/": action(
        admin_page(
            get=405, post=409, url=lambda w: f"/settings/api-keys/{w.issued.api_key.pk}/webhook/"
        )
    ),
    # The gateway API
    "api/v1/decisions": action(api(get=405, post=401, valid_key={"GET": 405, "POST": 400})),
    "api/v1/requests/<str:public_id>": api(
        get=401, post=405, url=_api_request(""), valid_key={"GET": 200, "POST": 405}
    ),
    "api/v1/requests/<str:public_id>/consume": action(
        api(get=405, post=401, url=_api_request("/consume"), valid_key={"GET": 405, "POST": 409})
    ),
    "api/v1/requests/<str:public_id>/cancel": action(
        api(get=405, post=401, url=_api_request("/cancel"), valid_key={"GET": 405, "POST": 200})
    ),
    "api/v1/openapi.json": public(roles(*[200] * 5), roles(*[200] * 5)),
    "api/v1/docs/": public(roles(*[200] * 5), roles(*[200] * 5)),
    # Unknown API URLs: a JSON 404 whatever the key (an unknown URL leaks nothing)
    "api/v1/^(?P<path>.*)$": api(
        get=404,
        post=404,
        url=lambda w: "/api/v1/no-such-endpoint",
        valid_key={"GET": 404, "POST": 404},
    ),
    # SCIM 2.0 for the identity provider (its own token, checked before the method or the URL)
    "scim/v2/ServiceProviderConfig": scim(valid_token={"GET": 200, "POST": 405}),
    "scim/v2/ResourceTypes": scim(valid_token={"GET": 200, "POST": 405}),
    "scim/v2/ResourceTypes/<str:name>": scim(
        url=lambda w: "/scim/v2/ResourceTypes/User", valid_token={"GET": 200, "POST": 405}
    ),
    "scim/v2/Schemas": scim(valid_token={"GET": 200, "POST": 405}),
    "scim/v2/Schemas/<str:urn>": scim(
        url=lambda w: f"/scim/v2/Schemas/{SCIM_USER}", valid_token={"GET": 200, "POST": 405}
    ),
    "scim/v2/.search": scim(valid_token={"GET": 405, "POST": 501}),
    "scim/v2/Users": action(scim(valid_token={"GET": 200, "POST": 400})),
    "scim/v2/Users/.search": scim(valid_token={"GET": 405, "POST": 400}),
    "scim/v2/Users/<str:pk>": scim(
        url=lambda w: f"/scim/v2/Users/{w.person.pk}", valid_token={"GET": 200, "POST": 405}
    ),
    "scim/v2/Groups": action(scim(valid_token={"GET": 200, "POST": 400})),
    "scim/v2/Groups/.search": scim(valid_token={"GET": 405, "POST": 400}),
    "scim/v2/Groups/<str:pk>": scim(
        url=lambda w: f"/scim/v2/Groups/{w.group.pk}", valid_token={"GET": 200, "POST": 405}
    ),
    "scim/v2/^(?P<path>.*)$": scim(
        url=lambda w: "/scim/v2/NoSuchEndpoint", valid_token={"GET": 404, "POST": 404}
    ),
    # Twilio's callbacks
    "webhooks/twilio/status": signed_webhook(),
    "webhooks/twilio/sms": signed_webhook(),
    # The approver link: no login, the token is the credential; only its POST decides
    "a/<path:token>/": action(
        public(get=roles(*[200] * 5), post=roles(*[400] * 5), url=lambda w: f"/a/{w.token}/")
    ),
    # The MCP gateway's OAuth authorization server (mcp_gateway/urls_oauth.py): the metadata is
    # public; the consent page needs a console login; the protocol endpoints are the agents'
    # (no session, no CSRF token: a client id, a code, a verifier or a registration token).
    ".well-known/oauth-authorization-server": public(roles(*[200] * 5), roles(*[405] * 5)),
    "oauth/authorize/": action(
        public(get=roles(LOGIN, 400, 400, 400, 400), post=roles(LOGIN, 400, 400, 400, 400))
    ),
    "oauth/token/": action(oauth_endpoint(get=405, post=400)),
    "oauth/revoke/": action(oauth_endpoint(get=405, post=400)),
    "oauth/register": action(oauth_endpoint(get=405, post=400)),
    "oauth/register/<str:client_id>/": action(
        oauth_endpoint(get=401, post=405, url=lambda w: "/oauth/register/no-such-client/")
    ),
    # The icon browsers ask for by themselves: a redirect to the static file
    "favicon.ico": public(get=roles(*[302] * 5), post=roles(*[405] * 5)),
    # Django's auth views and admin
    "accounts/login/": public(
        get=roles(200, 302, 302, 302, 302), post=roles(200, 302, 302, 302, 302)
    ),
    "accounts/logout/": public(get=roles(*[405] * 5), post=roles(*[302] * 5)),
    # Single sign-on (configured in this suite's world): a link to the identity provider for
    # anyone, and its answer, which no sign-in of these sessions awaits: 400, nothing stored
    "accounts/oidc/start/": public(get=roles(*[PROVIDER] * 5), post=roles(*[405] * 5)),
    "accounts/oidc/callback/": public(get=roles(*[400] * 5), post=roles(*[405] * 5)),
    # A step-up link (directory/views_step_up.py): its own person only (the outsider's here);
    # with single sign-on configured, their POST starts the step-up at the identity provider.
    "step-up/<str:token>/": action(
        public(
            get=roles(LOGIN, 200, 403, 403, 403),
            post=roles(LOGIN, 200, 403, 403, 403),
            url=lambda w: f"/step-up/{w.step_up}/",
        )
    ),
    "admin/": action(
        Route(
            get=roles(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200),
            post=roles(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200),
        )
    ),
}

# Includes whose own views check access (Django's admin): classified once, by their prefix.
DELEGATED = {"admin/"}


def discovered_routes(patterns=None, prefix: str = "") -> Iterator[str]:
    """Every URL pattern the resolver knows, as its full route ("requests/<uuid:public_id>/")."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver) and route not in DELEGATED:
            yield from discovered_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern | URLResolver):
            yield route


def unclassified_routes(routes: Iterable[str] | None = None) -> list[str]:
    """The discovered routes that ROUTES does not classify."""
    return [route for route in routes or discovered_routes() if route not in ROUTES]


def concrete_url(route: str, world: World) -> str:
    entry = ROUTES[route]
    return entry.url(world) if entry.url else "/" + route


MISSING_HELP = (
    "URL pattern {routes} has no entry in tests/security/url_table.py ROUTES. Add one line per "
    "route saying who may GET and POST it, e.g.\n"
    '    "connectors/<int:pk>/": admin_page(url=lambda w: f"/connectors/{{w.connector.pk}}/"),\n'
    "(helpers: admin_page, approver_page, request_page, api, scim, signed_webhook, public)."
)
