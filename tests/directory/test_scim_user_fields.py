"""SCIM Users keep what the identity provider sends, and the person's fields are derived from it.

Name parts and displayName are never overwritten from each other (create, PUT, PATCH); the
person's name, email and SMS phone are derived; what was sent comes back as sent.
"""

from __future__ import annotations

import pytest

from directory.models import Person
from directory.services import person_save
from tests.directory.test_scim_users import (
    ENTRA_CREATE,
    OKTA_CREATE,
    PATCH_OP,
    USER_SCHEMA,
    assert_scim_error,
)

NAMES = {
    "schemas": [USER_SCHEMA],
    "userName": "ana.lopez@example.com",
    "name": {"givenName": "Ana María", "familyName": "López García", "honorificPrefix": "Dr."},
    "displayName": "Ana L.",
}


def _patch(scim, person_id: str, *operations: dict):
    response = scim.patch(f"Users/{person_id}", {"schemas": [PATCH_OP], "Operations": operations})
    assert response.status_code == 200, response.content
    return response.json()


def test_create_keeps_the_name_parts_and_display_name_as_sent(scim):
    body = scim.post("Users", NAMES).json()
    assert body["name"] == NAMES["name"]
    assert body["displayName"] == "Ana L."
    assert Person.objects.get().name == "Ana L."


def test_patching_display_name_keeps_the_name_parts_and_the_other_way_round(scim):
    person_id = scim.post("Users", NAMES).json()["id"]
    body = _patch(scim, person_id, {"op": "replace", "path": "displayName", "value": "Ana (Sales)"})
    assert body["name"] == NAMES["name"]
    assert Person.objects.get().name == "Ana (Sales)"
    body = _patch(scim, person_id, {"op": "replace", "path": "name.givenName", "value": "Anita"})
    assert body["name"] == {**NAMES["name"], "givenName": "Anita"}
    assert body["displayName"] == "Ana (Sales)"
    assert Person.objects.get().name == "Ana (Sales)"


def test_okta_path_less_name_replace_merges_the_parts(scim):
    person_id = scim.post("Users", NAMES).json()["id"]
    body = _patch(scim, person_id, {"op": "replace", "value": {"name": {"familyName": "Ruiz"}}})
    assert body["name"] == {**NAMES["name"], "familyName": "Ruiz"}
    assert body["displayName"] == "Ana L."


def test_without_display_name_the_person_is_named_from_the_parts(scim):
    person_id = scim.post("Users", {**NAMES, "displayName": None}).json()["id"]
    assert Person.objects.get().name == "Ana María López García"
    body = scim.get(f"Users/{person_id}").json()
    assert "displayName" not in body  # not invented: the IdP did not send one
    _patch(scim, person_id, {"op": "add", "path": "displayName", "value": "Ana"})
    assert Person.objects.get().name == "Ana"
    body = _patch(scim, person_id, {"op": "remove", "path": "displayName"})
    assert "displayName" not in body
    assert Person.objects.get().name == "Ana María López García"


def test_put_keeps_the_name_parts_as_sent(scim):
    person_id = scim.post("Users", NAMES).json()["id"]
    replaced = {**NAMES, "name": {"givenName": "Ana", "familyName": "Ruiz"}, "displayName": None}
    body = scim.put(f"Users/{person_id}", replaced).json()
    assert body["name"] == {"givenName": "Ana", "familyName": "Ruiz"}
    assert "displayName" not in body
    assert Person.objects.get().name == "Ana Ruiz"


def test_a_user_name_that_is_not_an_email_takes_the_email_from_emails(scim):
    body = {
        **OKTA_CREATE,
        "userName": "alopez",
        "emails": [
            {"value": "ana@home.example", "type": "home"},
            {"value": "Ana.Lopez@example.com", "type": "work", "primary": True},
        ],
    }
    created = scim.post("Users", body)
    assert created.status_code == 201, created.content
    person = Person.objects.get()
    assert (person.email, person.user_name) == ("ana.lopez@example.com", "alopez")
    assert created.json()["userName"] == "alopez"
    assert created.json()["emails"] == body["emails"]
    found = scim.get("Users", filter='userName eq "ALOPEZ"').json()
    assert [r["id"] for r in found["Resources"]] == [str(person.pk)]
    clash = {**body, "externalId": "other", "emails": [{"value": "x@example.com"}]}
    assert_scim_error(scim.post("Users", clash), 409, "uniqueness")


@pytest.mark.parametrize(
    "emails",
    [[], [{"value": "not an email", "primary": True}], [{"type": "work"}]],
)
def test_a_user_without_any_email_is_invalid_value(scim, emails):
    body = {**OKTA_CREATE, "userName": "alopez", "emails": emails}
    assert_scim_error(scim.post("Users", body), 400, "invalidValue")
    assert not Person.objects.exists()


def test_phone_numbers_come_back_as_sent_and_sms_uses_the_mobile_one(scim):
    numbers = [
        {"value": "+1 555 010 0100", "type": "work", "primary": True},
        {"value": "+44 (20) 7946-0958", "type": "mobile"},
    ]
    body = scim.post("Users", {**OKTA_CREATE, "phoneNumbers": numbers}).json()
    assert body["phoneNumbers"] == numbers
    assert Person.objects.get().phone == "+442079460958"
    _patch(scim, body["id"], {"op": "remove", "path": 'phoneNumbers[type eq "mobile"]'})
    assert Person.objects.get().phone == "+15550100100"
    _patch(scim, body["id"], {"op": "replace", "path": "phoneNumbers", "value": [{"value": "12"}]})
    assert Person.objects.get().phone == ""  # not E.164: kept for the IdP, unused for SMS


def test_entra_sets_a_phone_type_it_has_not_sent_before(scim):
    person_id = scim.post("Users", ENTRA_CREATE).json()["id"]
    body = _patch(
        scim,
        person_id,
        {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "+15550100999"},
        {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].primary', "value": "True"},
    )
    assert body["phoneNumbers"] == [
        {"type": "mobile", "value": "+1 (555) 010-0200", "primary": True},
        {"type": "work", "value": "+15550100999"},
    ]


def test_adding_a_primary_email_takes_primary_from_the_others(scim):
    person_id = scim.post("Users", OKTA_CREATE).json()["id"]
    added = {"value": "ana@other.example", "type": "other", "primary": True}
    body = _patch(scim, person_id, {"op": "add", "path": "emails", "value": [added]})
    assert body["emails"] == [{**OKTA_CREATE["emails"][0], "primary": False}, added]
    assert Person.objects.get().email == "ana.lopez@example.com"  # the userName is the email
    two_primaries = [added, {"value": "b@example.com", "primary": True}]
    response = scim.patch(
        f"Users/{person_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "emails", "value": two_primaries}],
        },
    )
    assert_scim_error(response, 400, "invalidValue")


def test_read_only_attributes_are_ignored_in_bodies_and_refused_as_patch_paths(scim):
    body = scim.post("Users", {**OKTA_CREATE, "id": "not-this", "groups": [{"value": "1"}]}).json()
    assert body["id"] != "not-this" and "groups" not in body
    refused = scim.patch(
        f"Users/{body['id']}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "groups", "value": [{"value": "1"}]}],
        },
    )
    assert_scim_error(refused, 400, "mutability")


def test_active_comes_back_only_once_set_and_removing_it_reactivates(scim):
    person_id = scim.post("Users", {**NAMES, "active": False}).json()["id"]
    assert Person.objects.get().deactivated_at is not None
    body = _patch(scim, person_id, {"op": "remove", "path": "active"})
    assert "active" not in body
    assert Person.objects.get().deactivated_at is None


def test_an_import_after_scim_shows_the_person_as_agenwork_holds_them(scim):
    person_id = scim.post("Users", NAMES).json()["id"]
    person = Person.objects.get()
    person_save(person=person, fields={"name": "Ana Ruiz"}, actor="import", channel="import")
    body = scim.get(f"Users/{person_id}").json()
    assert (body["displayName"], body["userName"]) == ("Ana Ruiz", "ana.lopez@example.com")
