"""A console login is loaded with its directory person, in one query, on every request."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from directory.auth import PersonLoginBackend
from tests.factories import PersonFactory, UserFactory


@pytest.mark.django_db
def test_the_login_comes_with_its_person_in_one_query():
    user = UserFactory()
    person = PersonFactory(user=user)
    with CaptureQueriesContext(connection) as captured:
        loaded = PersonLoginBackend().get_user(user.pk)
        assert loaded.person == person
    assert len(captured) == 1


@pytest.mark.django_db
def test_a_login_without_a_person_still_loads():
    user = UserFactory()
    loaded = PersonLoginBackend().get_user(user.pk)
    assert loaded == user
    assert getattr(loaded, "person", None) is None


@pytest.mark.django_db
def test_an_unknown_or_inactive_login_is_nobody():
    user = UserFactory()
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert PersonLoginBackend().get_user(user.pk) is None
    assert PersonLoginBackend().get_user(user.pk + 1000) is None


def test_a_page_names_the_approver_without_querying_for_them(approver_client, access_request):
    with CaptureQueriesContext(connection) as captured:
        body = approver_client.get("/requests/").content.decode()
    assert "Dana Levi" in body
    assert str(access_request.public_id) in body
    assert not [q for q in captured.captured_queries if 'FROM "directory_person"' in q["sql"]]
