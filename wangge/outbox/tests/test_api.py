"""The outbox API: each user lists and edits only their own addresses (masked in every answer); administrators list
the messages of the users in their scope, read-only."""

import pytest

from wangge.cases.models import Notification
from wangge.cases.notifications import notify
from wangge.core.testing import (
    COMMUNITY_A,
    COMMUNITY_B,
    OTHER_SUBDISTRICT_COMMUNITY,
    assert_cross_scope_denied,
    assert_matches_schema,
    make_superuser,
    make_user,
)
from wangge.outbox import services
from wangge.outbox.models import OutboundAddress, OutboxMessage

from .conftest import PHONE, add_phone

pytestmark = pytest.mark.django_db
ADDRESSES = "/api/v1/outbound-addresses/"
OUTBOX = "/api/v1/outbox/"


def test_add_list_change_and_remove_your_own_address(client, configured):
    user = make_user("grid_worker")
    client.force_login(user)
    created = client.post(ADDRESSES, {"channel": "sms", "address": "138 1234 5678"}, content_type="application/json")
    assert created.status_code == 201, created.content
    assert_matches_schema(created, "/api/v1/outbound-addresses/", "post")
    body = created.json()
    assert body["channel"] == "sms" and body["address_masked"] == "138****5678" and body["active"] is True
    assert "address" not in body and PHONE not in created.content.decode()
    assert OutboundAddress.objects.get(pk=body["id"]).address == PHONE

    listing = client.get(ADDRESSES)
    assert listing.status_code == 200 and [row["id"] for row in listing.json()] == [body["id"]]
    assert_matches_schema(listing, "/api/v1/outbound-addresses/")

    detail = f"{ADDRESSES}{body['id']}/"
    changed = client.patch(detail, {"address": "13900001111", "active": False}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["address_masked"] == "139****1111"
    assert changed.json()["active"] is False
    assert_matches_schema(changed, "/api/v1/outbound-addresses/{id}/", "patch")
    assert client.put(detail, {"channel": "sms", "address": PHONE}, content_type="application/json").status_code == 405

    assert client.delete(detail).status_code == 204
    assert not OutboundAddress.objects.filter(user=user).exists()


def test_address_input_errors_never_repeat_the_value(client, configured):
    user = make_user("grid_worker")
    client.force_login(user)
    bad = client.post(ADDRESSES, {"channel": "sms", "address": "0531-8888777"}, content_type="application/json")
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["address"]
    assert "8888777" not in bad.content.decode()
    unknown = client.post(ADDRESSES, {"channel": "fax", "address": PHONE}, content_type="application/json")
    assert unknown.status_code == 400 and list(unknown.json()["error"]["fields"]) == ["channel"]
    im = client.post(ADDRESSES, {"channel": "im_webhook", "address": "bad id"}, content_type="application/json")
    assert im.status_code == 400 and list(im.json()["error"]["fields"]) == ["address"]
    assert client.post(ADDRESSES, {"channel": "sms", "address": PHONE}, content_type="application/json"
                       ).status_code == 201
    again = client.post(ADDRESSES, {"channel": "sms", "address": PHONE}, content_type="application/json")
    assert again.status_code == 400 and list(again.json()["error"]["fields"]) == ["channel"]


def test_capture_takes_no_address(client, settings):
    settings.OUTBOX_CHANNELS = {"capture": {"class": "wangge.outbox.channels.CaptureChannel"}}
    client.force_login(make_user("grid_worker"))
    refused = client.post(ADDRESSES, {"channel": "capture", "address": "x"}, content_type="application/json")
    assert refused.status_code == 400 and list(refused.json()["error"]["fields"]) == ["channel"]
    listing = client.get(f"{ADDRESSES}channels/")
    assert listing.json() == [{"name": "capture", "needs_address": False}]
    assert_matches_schema(listing, "/api/v1/outbound-addresses/channels/")


def test_nobody_reads_or_edits_someone_elses_address(client, configured):
    owner = make_user("grid_worker", COMMUNITY_A)
    address = add_phone(owner)
    detail = f"{ADDRESSES}{address.pk}/"
    # Not even an administrator of the owner's area, nor a superuser: addresses are each user's own.
    for other in (make_user("grid_worker", COMMUNITY_A), make_user("admin", COMMUNITY_A), make_superuser()):
        assert_cross_scope_denied(client, other, detail)
        assert_cross_scope_denied(client, other, detail, method="patch", data={"active": False})
        assert_cross_scope_denied(client, other, detail, method="delete")
        assert client.get(ADDRESSES).json() == []
    address.refresh_from_db()
    assert address.active is True and address.address == PHONE


def test_anonymous_is_refused(client):
    assert client.get(ADDRESSES).status_code in (401, 403)
    assert client.get(OUTBOX).status_code in (401, 403)


@pytest.fixture
def messages(configured):
    """One SMS each for a worker of community A, of community B (same subdistrict) and of another subdistrict."""
    inside, neighbour, outside = (make_user("grid_worker", code)
                                  for code in (COMMUNITY_A, COMMUNITY_B, OTHER_SUBDISTRICT_COMMUNITY))
    for i, user in enumerate((inside, neighbour, outside)):
        add_phone(user, f"1390000000{i}")
    notify([inside, neighbour, outside], Notification.Kind.WARNING, None, "0103-20250101-00001: warning")
    OutboxMessage.objects.filter(recipient=neighbour).update(status=OutboxMessage.Status.DEAD, last_error="HTTP 400")
    return {user: OutboxMessage.objects.get(recipient=user) for user in (inside, neighbour, outside)}


def test_an_administrator_lists_the_messages_of_users_in_their_scope(client, messages):
    inside, neighbour, outside = messages
    admin = make_user("admin", "370103002")  # the subdistrict of communities A and B
    client.force_login(admin)
    listing = client.get(OUTBOX)
    assert listing.status_code == 200
    assert_matches_schema(listing, "/api/v1/outbox/")
    rows = listing.json()["results"]
    assert {row["id"] for row in rows} == {messages[inside].pk, messages[neighbour].pk}
    row = next(row for row in rows if row["id"] == messages[inside].pk)
    assert (row["channel"], row["status"], row["recipient"], row["kind"]) == ("sms", "pending", inside.pk, "warning")
    assert "13900000000" not in listing.content.decode()

    dead = client.get(OUTBOX, {"status": "dead"})
    assert [row["id"] for row in dead.json()["results"]] == [messages[neighbour].pk]
    assert dead.json()["results"][0]["last_error"] == "HTTP 400"
    detail = client.get(f"{OUTBOX}{messages[inside].pk}/")
    assert detail.status_code == 200
    assert_matches_schema(detail, "/api/v1/outbox/{id}/")
    assert_cross_scope_denied(client, admin, f"{OUTBOX}{messages[outside].pk}/")
    assert client.post(OUTBOX, {}, content_type="application/json").status_code == 405


def test_outside_the_scope_or_without_the_role_nothing_is_listed(client, messages):
    inside, _neighbour, outside = messages
    other_admin = make_user("admin", OTHER_SUBDISTRICT_COMMUNITY)
    client.force_login(other_admin)
    assert [row["id"] for row in client.get(OUTBOX).json()["results"]] == [messages[outside].pk]
    assert_cross_scope_denied(client, other_admin, f"{OUTBOX}{messages[inside].pk}/")
    for role in ("grid_worker", "community_staff", "command"):
        user = make_user(role, COMMUNITY_A)
        assert_cross_scope_denied(client, user, OUTBOX)
        assert_cross_scope_denied(client, user, f"{OUTBOX}{messages[inside].pk}/")
    # the recipient themself does not read the outbox either: their inbox is /api/v1/cases/notifications/
    assert_cross_scope_denied(client, inside, f"{OUTBOX}{messages[inside].pk}/")


def test_a_superuser_sees_every_message(client, messages):
    client.force_login(make_superuser())
    assert {row["id"] for row in client.get(OUTBOX).json()["results"]} == {m.pk for m in messages.values()}


def test_services_refuse_someone_elses_address(configured):
    from django.http import Http404

    owner, other = make_user("grid_worker"), make_user("grid_worker")
    address = add_phone(owner)
    with pytest.raises(Http404):
        services.do_update_address(address, actor=other, active=False)
    with pytest.raises(Http404):
        services.do_remove_address(address, actor=other)


def test_address_errors_in_the_default_language(client, configured, settings):
    from django.utils import translation
    from django.utils.translation import gettext

    settings.LANGUAGE_CODE = "zh-hans"
    client.force_login(make_user("grid_worker"))
    response = client.post(ADDRESSES, {"channel": "sms", "address": "12345"}, content_type="application/json",
                           HTTP_ACCEPT_LANGUAGE="zh-hans")
    with translation.override("zh-hans"):
        expected = gettext("Not a mobile number: 11 digits, starting with 1.")
    assert expected.startswith("不是手机号码")  # the catalogue is compiled and has the entry
    assert response.status_code == 400 and response.json()["error"]["fields"]["address"] == [expected]
