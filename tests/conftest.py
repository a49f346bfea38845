"""Fixtures shared by the whole suite: the three personas and a request they care about.

- admin: a staff login; sees and decides everything.
- approver: Dana, a person in the Security group that approves the request's flow.
- outsider: a login linked to a person who approves nothing.
The requester, Ana, has no login at all.
- demo: the DESIGN §9 scenario of `seed_demo --requests 0`, built once per session
  (tests/support/demo.py) and put back in each test that asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import override_settings

from connectors.models import Tool
from directory.models import Person
from tests.factories import (
    ApprovalFlowFactory,
    ApprovalLevelFactory,
    ConnectorFactory,
    GroupFactory,
    PersonFactory,
    ToolFactory,
    UserFactory,
    make_request,
)
from tests.support.demo import DemoRows, take_demo_rows
from tests.support.identity_provider import (
    IdentityProvider,
    ProviderNotStarted,
    RegisteredClient,
    start_identity_provider,
)
from tests.support.workers import pin_redis_databases

# Before any test or fixture reads them: under pytest-xdist each worker has its own Redis dbs.
pin_redis_databases()

PASSWORD = "correct-horse-battery"

# Handed out early: xdist hands tests out in collection order, and one of these minutes-long
# tests handed out last would keep its worker busy long after the others have finished.
LONGEST_FIRST = (
    "tests/integration/",
    "tests/security/test_api_schema_fuzz.py",
    "tests/ops/test_readme_commands.py",
    "tests/dashboard/test_dashboard_refresh.py",
    "tests/browser/",
)


def _database_use(item: pytest.Item) -> str:
    """As pytest-django sorts: 'transaction' tests, then 'transactional' ones (which flush)."""
    fixtures = getattr(item, "fixturenames", ())
    marker = item.get_closest_marker("django_db")
    flushes = marker is not None and bool(
        marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")
    )
    if flushes or "transactional_db" in fixtures or "live_server" in fixtures:
        return "transactional"
    return "transaction" if marker is not None or "db" in fixtures else "none"


# Each worker still runs every test in a transaction before any test that flushes the database
# (Django's order); tests without a database fit anywhere, the long ones at the very start.
_ORDER = {
    ("none", True): 0,
    ("transaction", True): 0,
    ("transaction", False): 1,
    ("transactional", True): 2,
    ("transactional", False): 3,
    ("none", False): 4,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest first within pytest-django's order (stable: a module's tests stay together)."""
    items.sort(key=lambda item: _ORDER[_database_use(item), item.nodeid.startswith(LONGEST_FIRST)])


@pytest.fixture(autouse=True, scope="session")
def _require_postgresql(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.exit(
                "The suite runs on PostgreSQL: set DATABASE_URL (make test does).", returncode=2
            )


@pytest.fixture(autouse=True, scope="session")
def _static_without_manifest():
    """`make test` runs collectstatic first; a bare pytest run resolves {% static %} from source."""
    if (Path(django_settings.STATIC_ROOT) / "staticfiles.json").exists():
        yield
        return
    storages = {
        **django_settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        yield


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Logins in tests (factories, the demo) hash with MD5: PBKDF2 costs ~0.3 s a password."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session")
def demo_rows(django_db_setup, django_db_blocker, _fast_password_hashing) -> DemoRows:
    """`seed_demo --requests 0`, run once per session (per xdist worker) and rolled back."""
    with django_db_blocker.unblock():
        return take_demo_rows()


@pytest.fixture
def demo(db, demo_rows: DemoRows) -> dict[str, Person]:
    """The DESIGN §9 scenario (and Ana's three hand-written pending requests), by email."""
    demo_rows.put_back()
    return {person.email: person for person in Person.objects.all()}


@pytest.fixture(autouse=True)
def _fresh_policy_snapshot():
    """Each test rolls the snapshot version back: never reuse a snapshot cached by another test."""
    from policies.snapshot import clear_snapshot_cache

    clear_snapshot_cache()
    yield
    clear_snapshot_cache()


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """A per-test in-memory cache: login failures of one test never throttle another."""
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _broker_not_paused():
    """A broker refusal in one test must not pause publishing in the next one."""
    from agenwork.broker import resume_publishing

    resume_publishing()
    yield
    resume_publishing()


@pytest.fixture
def celery_eager():
    """Tasks run in this process when published (Celery's settings read attributes, not keys)."""
    from agenwork.celery import celery_settings

    with celery_settings(task_always_eager=True):
        yield


@pytest.fixture(scope="session")
def identity_provider(tmp_path_factory) -> Iterator[IdentityProvider]:
    """The company's identity provider: oidc-provider in Node, one per session (and worker)."""
    try:
        provider = start_identity_provider(tmp_path_factory.mktemp("identity-provider"))
    except ProviderNotStarted as exc:
        pytest.fail(str(exc), pytrace=False)
    yield provider
    provider.stop()


@pytest.fixture
def single_sign_on(settings, identity_provider) -> RegisteredClient:
    """The console signs in through the identity provider: a client of this test's own,
    registered with SITE_URL's callback as its one redirect URI (set SITE_URL first)."""
    client = identity_provider.register_client(f"{settings.SITE_URL}/accounts/oidc/callback/")
    settings.OIDC_ISSUER = identity_provider.issuer
    settings.OIDC_CLIENT_ID = client.client_id
    settings.OIDC_CLIENT_SECRET = client.client_secret
    settings.OIDC_PROVIDER_NAME = "Acme SSO"
    return client


@pytest.fixture
def sso_people(requester, approver_user, flow) -> Person:
    """The directory the identity provider's accounts meet (tests/support/identity_provider.py):
    Ana without a login, Dana an approver with hers, Lena locked, Kim by external id only."""
    PersonFactory(name="Lena Locked", email="lena@example.com", status=Person.Status.LOCKED)
    PersonFactory(name="Kim Park", email="kim@example.com", external_id="emp-0042")
    return requester


@pytest.fixture
def connector(db):
    return ConnectorFactory(slug="google-calendar", name="Google Calendar")


@pytest.fixture
def tools(connector):
    return [
        ToolFactory(
            connector=connector, key="google-calendar_events_create", access=Tool.Access.WRITE
        ),
        ToolFactory(
            connector=connector, key="google-calendar_events_update", access=Tool.Access.WRITE
        ),
        ToolFactory(
            connector=connector, key="google-calendar_events_delete", access=Tool.Access.DELETE
        ),
    ]


@pytest.fixture
def security_group(db):
    return GroupFactory(name="Security")


@pytest.fixture
def flow(security_group):
    flow = ApprovalFlowFactory(name="Sales approvals", channel_sms=True)
    level = ApprovalLevelFactory(flow=flow, position=1)
    level.groups.add(security_group)
    return flow


@pytest.fixture
def requester(db):
    person = PersonFactory(name="Ana Lopez", email="ana@example.com")
    person.groups.add(GroupFactory(name="Sales"))
    return person


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def approver_user(security_group):
    user = UserFactory(username="dana")
    person = PersonFactory(name="Dana Levi", email="dana@example.com", phone="+15550100", user=user)
    person.groups.add(security_group)
    return user


@pytest.fixture
def outsider_user(db):
    user = UserFactory(username="olivia")
    PersonFactory(name="Olivia Outsider", email="olivia@example.com", user=user)
    return user


@pytest.fixture
def access_request(requester, tools, flow):
    return make_request(
        requester=requester,
        tools=tools[:2],
        flow=flow,
        note="Need to book the quarterly review with the customer.",
        agent="Claude",
        arguments={"calendarId": "primary", "summary": "QBR"},
    )


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def approver_client(client, approver_user):
    client.force_login(approver_user)
    return client


@pytest.fixture
def outsider_client(client, outsider_user):
    client.force_login(outsider_user)
    return client


@pytest.fixture
def persona_client(request):
    """The logged-in client of the persona named by the test's `persona` parameter."""
    return request.getfixturevalue(f"{request.param}_client")
