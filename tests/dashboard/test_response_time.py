"""How long an approver looked before deciding: signed into the form on GET, recorded on POST."""

from __future__ import annotations

import re
import time

import pytest

from requests_app.links import link_create
from requests_app.models import AccessRequest, RequestEvent
from requests_app.opened import opened_token, response_ms
from tests.factories import link_approval

HTMX = {"HTTP_HX_REQUEST": "true"}


def _now_ms() -> int:
    return int(time.time() * 1000)


def opened_field(body: str) -> str:
    return re.search(r'name="opened" value="([^"]+)"', body).group(1)


def decision_event(access_request: AccessRequest) -> RequestEvent:
    return access_request.events.get(kind__in=("approved", "denied", "voted"))


def test_token_round_trip_measures_the_time_between():
    token = opened_token("r-1", now_ms=1_000_000)
    assert response_ms(token, "r-1", now_ms=1_004_200) == 4_200


@pytest.mark.parametrize(
    "token",
    ["", "garbage", opened_token("another-request", now_ms=1_000_000), "x" * 5000],
    ids=["missing", "garbage", "other-request", "huge"],
)
def test_unusable_tokens_mean_unknown(token):
    assert response_ms(token, "r-1", now_ms=1_004_200) is None


def test_tampered_token_means_unknown():
    token = opened_token("r-1", now_ms=1_000_000)
    forged = token.replace(token.split(":")[0], opened_token("r-1", now_ms=1).split(":")[0])
    assert response_ms(forged, "r-1", now_ms=1_004_200) is None


def test_a_token_from_the_future_means_unknown():
    assert response_ms(opened_token("r-1", now_ms=2_000_000), "r-1", now_ms=1_000_000) is None


def test_the_panel_get_signs_the_opened_time_and_writes_nothing(approver_client, access_request):
    events = list(access_request.events.values_list("id", flat=True))
    before = _now_ms()
    body = approver_client.get(f"/requests/{access_request.public_id}/", **HTMX).content.decode()
    token = opened_field(body)
    assert 0 <= response_ms(token, access_request.public_id, now_ms=_now_ms()) <= _now_ms() - before
    assert list(access_request.events.values_list("id", flat=True)) == events


@pytest.mark.parametrize("persona", ["admin", "approver"])
def test_a_panel_decision_records_the_response_time(request, persona, access_request):
    client = request.getfixturevalue(f"{persona}_client")
    token = opened_token(access_request.public_id, now_ms=_now_ms() - 90_000)
    client.post(f"/requests/{access_request.public_id}/deny/", {"opened": token}, **HTMX)
    looked = decision_event(access_request).response_ms
    assert 90_000 <= looked < 120_000


@pytest.mark.parametrize("opened", ["", "tampered:value", None], ids=["empty", "bad", "absent"])
def test_a_decision_without_a_good_token_still_decides_with_unknown_time(
    admin_client, access_request, opened
):
    data = {} if opened is None else {"opened": opened}
    response = admin_client.post(f"/requests/{access_request.public_id}/deny/", data, **HTMX)
    assert response.status_code == 200
    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.DENIED
    assert decision_event(access_request).response_ms is None


def test_the_approver_link_page_carries_the_token_and_its_post_records_it(
    client, approver_user, access_request
):
    token = link_create(access_request=access_request, person=approver_user.person, channel="sms")
    body = client.get(f"/a/{token}/").content.decode()
    assert response_ms(opened_field(body), access_request.public_id) is not None
    opened = opened_token(access_request.public_id, now_ms=_now_ms() - 2_000)
    client.post(f"/a/{token}/", link_approval(access_request, opened=opened))
    event = decision_event(access_request)
    assert (event.kind, event.channel, event.actor_name) == ("approved", "sms", "Dana Levi")
    assert 2_000 <= event.response_ms < 30_000
