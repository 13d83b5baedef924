from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from wangge.accounts.models import ApiKey, User, hash_api_key
from wangge.accounts.services import do_create_api_key, do_revoke_api_key
from wangge.core.history import history_of
from wangge.core.testing import COMMUNITY_A, OTHER_SUBDISTRICT_COMMUNITY, assert_cross_scope_denied, make_user

pytestmark = pytest.mark.django_db

ME = "/api/v1/accounts/me/"
KEYS = "/api/v1/accounts/api-keys/"


@pytest.fixture
def manager(db):
    return make_user("admin", "370103002", display_name="Subdistrict admin")


@pytest.fixture
def system(db):
    return make_user("system", COMMUNITY_A, username="registry-sync")


def _with_key(client, raw, url=ME):
    return client.get(url, HTTP_AUTHORIZATION=f"Api-Key {raw}")


def _assert_refused(response):
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["fields"] == {}
    assert response["WWW-Authenticate"] == "Api-Key"


def test_a_manager_creates_a_key_shown_once_and_only_its_hash_is_stored(client, manager, system):
    client.force_login(manager)
    response = client.post(KEYS, {"name": "Registry sync", "user": system.pk}, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    raw = body["key"]
    assert raw.startswith(f"wg_{body['prefix']}_") and len(raw) > 40
    key = ApiKey.objects.get(pk=body["id"])
    assert key.user == system and key.key_hash == hash_api_key(raw)
    # The secret is in no column of the table.
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(k)::text FROM accounts_apikey k WHERE id = %s", [key.pk])
        assert raw.split("_", 2)[2] not in cursor.fetchone()[0]
    listed = client.get(KEYS).json()["results"]
    assert [row["prefix"] for row in listed] == [key.prefix]
    assert "key" not in listed[0] and raw not in client.get(KEYS).content.decode()
    assert "key" not in client.get(f"{KEYS}{key.pk}/").json()


def test_the_key_authenticates_as_its_user(client, manager, system):
    _key, raw = do_create_api_key(system, "sync", actor=manager)
    response = _with_key(client, raw)
    assert response.status_code == 200
    assert response.json()["username"] == "registry-sync"
    assert ApiKey.objects.get(prefix=_key.prefix).last_used_at is not None


@pytest.mark.parametrize("mangle", [
    lambda raw: raw[:-2] + ("AA" if not raw.endswith("AA") else "BB"),  # wrong secret
    lambda raw: "wg_000000000000_" + raw.split("_", 2)[2],  # unknown prefix
    lambda raw: "not-a-key",  # malformed
    lambda raw: "",
])
def test_a_wrong_key_is_401_with_the_uniform_error_body(client, manager, system, mangle):
    _key, raw = do_create_api_key(system, "sync", actor=manager)
    _assert_refused(_with_key(client, mangle(raw)))


def test_a_revoked_key_is_refused(client, manager, system):
    key, raw = do_create_api_key(system, "sync", actor=manager)
    client.force_login(manager)
    response = client.post(f"{KEYS}{key.pk}/revoke/")
    assert response.status_code == 200
    assert response.json()["usable"] is False and response.json()["revoked_at"]
    client.logout()
    _assert_refused(_with_key(client, raw))


def test_an_expired_key_is_refused(client, manager, system):
    key, raw = do_create_api_key(system, "sync", actor=manager, expires_at=timezone.now() + timedelta(days=1))
    assert _with_key(client, raw).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    _assert_refused(_with_key(client, raw))


def test_the_key_of_a_deactivated_user_is_refused(client, manager, system):
    _key, raw = do_create_api_key(system, "sync", actor=manager)
    User.objects.filter(pk=system.pk).update(is_active=False)
    _assert_refused(_with_key(client, raw))


def test_a_key_cannot_be_created_already_expired(client, manager, system):
    client.force_login(manager)
    response = client.post(KEYS, {"name": "sync", "user": system.pk, "expires_at": "2020-01-01T00:00:00Z"},
                           content_type="application/json")
    assert response.status_code == 400
    assert "expires_at" in response.json()["error"]["fields"]


def test_only_managers_create_keys_and_only_for_users_in_their_scope(client, manager, system):
    staff = make_user("community_staff", COMMUNITY_A)
    client.force_login(staff)
    response = client.post(KEYS, {"name": "mine"}, content_type="application/json")
    assert response.status_code in (400, 403, 404)
    assert not ApiKey.objects.filter(user=staff).exists()

    far = make_user("system", OTHER_SUBDISTRICT_COMMUNITY)
    client.force_login(manager)
    response = client.post(KEYS, {"name": "theirs", "user": far.pk}, content_type="application/json")
    missing = client.post(KEYS, {"name": "theirs", "user": 10**9}, content_type="application/json")
    assert response.status_code == missing.status_code == 400
    assert response.json() == missing.json()  # out of scope reads exactly like missing
    assert not ApiKey.objects.filter(user=far).exists()


def test_keys_of_other_scopes_are_invisible_and_cannot_be_revoked(client, manager, system):
    far = make_user("system", OTHER_SUBDISTRICT_COMMUNITY)
    far_manager = make_user("admin", "370103003")
    far_key, far_raw = do_create_api_key(far, "far", actor=far_manager)
    own_key, _raw = do_create_api_key(system, "near", actor=manager)
    client.force_login(manager)
    assert [row["id"] for row in client.get(KEYS).json()["results"]] == [own_key.pk]
    assert_cross_scope_denied(client, manager, f"{KEYS}{far_key.pk}/")
    assert_cross_scope_denied(client, manager, f"{KEYS}{far_key.pk}/revoke/", method="post")
    assert _with_key(client, far_raw).status_code == 200


def test_a_user_sees_its_own_keys_but_nobody_elses(client, manager, system):
    own, _raw = do_create_api_key(system, "own", actor=manager)
    do_create_api_key(manager, "the manager's", actor=manager)
    client.force_login(system)
    assert [row["id"] for row in client.get(KEYS).json()["results"]] == [own.pk]


def test_changes_made_with_a_key_are_logged_as_its_user(client, manager):
    _key, raw = do_create_api_key(manager, "provisioning", actor=manager)
    worker = make_user("grid_worker", COMMUNITY_A)
    response = client.post("/api/v1/accounts/assignments/", {"user": worker.pk, "area_code": COMMUNITY_A,
                                                             "role": "volunteer"},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert response.status_code == 201, response.content
    [insert] = history_of(worker.assignments.get(role__slug="volunteer"))
    assert insert["user"] == manager.pk
    assert insert["request_id"] == response["X-Request-ID"]


def test_revoking_twice_keeps_the_first_time(manager, system):
    key, _raw = do_create_api_key(system, "sync", actor=manager)
    do_revoke_api_key(key, actor=manager)
    first = ApiKey.objects.get(pk=key.pk).revoked_at
    do_revoke_api_key(key, actor=manager)
    assert ApiKey.objects.get(pk=key.pk).revoked_at == first
    assert reverse("accounts-api:api-key-list") == KEYS
