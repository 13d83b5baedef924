from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from wangge.accounts.models import AreaAssignment, Role, User
from wangge.accounts.roles import CHANGE_AREA, MANAGE_USERS, VIEW_AREA
from wangge.accounts.services import do_assign_area
from wangge.core.testing import (
    COMMUNITY_A,
    COMMUNITY_B,
    OTHER_SUBDISTRICT_COMMUNITY,
    assert_cross_scope_denied,
    make_superuser,
    make_user,
)

pytestmark = pytest.mark.django_db

ASSIGNMENTS = "/api/v1/accounts/assignments/"
USERS = "/api/v1/accounts/users/"
SUBDISTRICT = "370103002"  # 大观园街道: COMMUNITY_A and COMMUNITY_B lie in it; OTHER_SUBDISTRICT_COMMUNITY does not


@pytest.fixture
def manager(db):
    return make_user("admin", SUBDISTRICT)


def _assign(client, user, area_code, role="grid_worker"):
    return client.post(ASSIGNMENTS, {"user": user.pk, "area_code": area_code, "role": role},
                       content_type="application/json")


def test_me_lists_the_assignments_with_the_roles_actions(client, db):
    user = make_user("community_staff", COMMUNITY_A, display_name="Zhang Wei")
    do_assign_area(user, OTHER_SUBDISTRICT_COMMUNITY, "volunteer", actor=make_superuser())
    client.force_login(user)
    body = client.get("/api/v1/accounts/me/").json()
    assert body["username"] == user.username and body["display_name"] == "Zhang Wei"
    by_code = {row["area_code"]: row["role"] for row in body["assignments"]}
    assert by_code[COMMUNITY_A]["slug"] == "community_staff"
    assert CHANGE_AREA in by_code[COMMUNITY_A]["actions"]
    assert by_code[OTHER_SUBDISTRICT_COMMUNITY] == {"slug": "volunteer", "name": "Volunteer",
                                                    "actions": Role.objects.get(slug="volunteer").actions}
    assert VIEW_AREA in by_code[OTHER_SUBDISTRICT_COMMUNITY]["actions"]


def test_a_subdistrict_admin_assigns_inside_its_subdistrict(client, manager):
    worker = make_user(None, username="new-worker")
    client.force_login(manager)
    response = _assign(client, worker, COMMUNITY_A + "001")
    assert response.status_code == 201, response.content
    assert response.json()["role"]["slug"] == "grid_worker"
    assert worker.scope_codes(VIEW_AREA) == (COMMUNITY_A + "001",)


def test_a_subdistrict_admin_cannot_assign_outside_its_subdistrict(client, manager):
    worker = make_user("grid_worker", COMMUNITY_A)
    client.force_login(manager)
    response = _assign(client, worker, OTHER_SUBDISTRICT_COMMUNITY)
    assert response.status_code in (403, 404)
    assert not worker.assignments.filter(area_code=OTHER_SUBDISTRICT_COMMUNITY).exists()
    # The district above it is outside too: a subdistrict cannot widen anybody's reach past itself.
    assert _assign(client, worker, "370103").status_code in (403, 404)
    with pytest.raises(Http404):
        do_assign_area(worker, OTHER_SUBDISTRICT_COMMUNITY, "grid_worker", actor=manager)


def test_nobody_grants_actions_it_does_not_hold(client, manager):
    worker = make_user("grid_worker", COMMUNITY_A)
    client.force_login(manager)
    response = _assign(client, worker, COMMUNITY_A, role="system")  # ingest: no admin holds it
    assert response.status_code == 403
    assert "role" in response.json()["error"]["fields"]
    staff = make_user("community_staff", COMMUNITY_A)
    client.force_login(staff)  # holds no MANAGE_USERS at all
    assert _assign(client, worker, COMMUNITY_A, role="volunteer").status_code == 403
    assert list(worker.assignments.values_list("role__slug", flat=True)) == ["grid_worker"]


def test_users_of_another_scope_cannot_be_given_areas(client, manager):
    far = make_user("grid_worker", OTHER_SUBDISTRICT_COMMUNITY)
    client.force_login(manager)
    response = _assign(client, far, COMMUNITY_A)
    missing = client.post(ASSIGNMENTS, {"user": 10**9, "area_code": COMMUNITY_A, "role": "grid_worker"},
                          content_type="application/json")
    assert response.status_code == missing.status_code == 400
    assert response.json() == missing.json()
    assert not far.assignments.filter(area_code=COMMUNITY_A).exists()


@pytest.mark.parametrize("payload,field", [
    ({"area_code": "37010300200"}, "area_code"),
    ({"area_code": "3701030020ab"}, "area_code"),
    ({"role": "no-such-role"}, "role"),
    ({"user": "abc"}, "user"),
    ({"area_code": None}, "area_code"),
])
def test_bad_assignment_input_names_the_field(client, manager, payload, field):
    worker = make_user("grid_worker", COMMUNITY_A)
    client.force_login(manager)
    response = client.post(ASSIGNMENTS, {"user": worker.pk, "area_code": COMMUNITY_A, "role": "volunteer", **payload},
                           content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


def test_assignments_list_and_delete_stay_inside_the_scope(client, manager):
    near = make_user("grid_worker", COMMUNITY_B)
    far = make_user("grid_worker", OTHER_SUBDISTRICT_COMMUNITY)
    client.force_login(manager)
    codes = {row["area_code"] for row in client.get(ASSIGNMENTS, {"page_size": 1000}).json()["results"]}
    assert COMMUNITY_B in codes and OTHER_SUBDISTRICT_COMMUNITY not in codes
    assert all(code.startswith(SUBDISTRICT) for code in codes)

    far_assignment = far.assignments.get()
    assert_cross_scope_denied(client, manager, f"{ASSIGNMENTS}{far_assignment.pk}/")
    assert_cross_scope_denied(client, manager, f"{ASSIGNMENTS}{far_assignment.pk}/", method="delete")
    assert AreaAssignment.objects.filter(pk=far_assignment.pk).exists()

    near_assignment = near.assignments.get()
    assert client.delete(f"{ASSIGNMENTS}{near_assignment.pk}/").status_code == 204
    assert not AreaAssignment.objects.filter(pk=near_assignment.pk).exists()


def test_the_users_list_holds_those_with_an_assignment_inside_the_scope(client, manager):
    near = make_user("grid_worker", COMMUNITY_A)
    both = make_user("grid_worker", OTHER_SUBDISTRICT_COMMUNITY)
    do_assign_area(both, COMMUNITY_B, "volunteer", actor=make_superuser())
    far = make_user("grid_worker", OTHER_SUBDISTRICT_COMMUNITY)
    district_user = make_user("command", "370103")
    client.force_login(manager)
    usernames = {row["username"] for row in client.get(USERS, {"page_size": 1000}).json()["results"]}
    assert {near.username, both.username, manager.username} <= usernames
    assert far.username not in usernames and district_user.username not in usernames
    assert_cross_scope_denied(client, manager, f"{USERS}{far.pk}/")
    assert_cross_scope_denied(client, manager, f"{USERS}{far.pk}/unlock/", method="post")
    assert set(User.objects.restrict(manager, MANAGE_USERS).values_list("username", flat=True)) == usernames


def test_people_without_manage_users_see_no_users(client, db):
    staff = make_user("community_staff", COMMUNITY_A)
    make_user("grid_worker", COMMUNITY_A)
    client.force_login(staff)
    assert client.get(USERS).json()["results"] == []
    assert client.get(ASSIGNMENTS).json()["results"] == []


def test_a_superuser_sees_every_user(client, db):
    make_user("grid_worker", OTHER_SUBDISTRICT_COMMUNITY)
    root = make_superuser()
    assert User.objects.restrict(root, MANAGE_USERS).count() == User.objects.count()


def test_unlock_clears_a_lock_of_a_user_in_scope(client, manager):
    worker = make_user("grid_worker", COMMUNITY_A)
    User.objects.filter(pk=worker.pk).update(locked_until=timezone.now() + timedelta(minutes=10), failed_logins=3)
    client.force_login(manager)
    assert client.get(f"{USERS}{worker.pk}/").json()["locked"] is True
    body = client.post(f"{USERS}{worker.pk}/unlock/").json()
    assert body["locked"] is False and body["locked_until"] is None
    worker.refresh_from_db()
    assert worker.failed_logins == 0


def test_a_signed_in_users_scope_follows_its_assignments_from_the_next_request(client, district):
    """A request's user is read with its assignments in one query; a change to them (an area taken away, a role's
    action withdrawn, an area given) binds from the very next request, with nothing remembered in between."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from wangge.geo.models import Area

    user = make_user("community_staff", COMMUNITY_A)
    client.force_login(user)
    area = f"/api/v1/geo/areas/{Area.objects.get(generation__state='active', code=COMMUNITY_A).pk}/"
    with CaptureQueriesContext(connection) as queries:
        assert client.get(area).status_code == 200
    assert not any("accounts_areaassignment" in q["sql"] and "accounts_user" not in q["sql"]
                   for q in queries.captured_queries)
    AreaAssignment.objects.filter(user=user).delete()
    assert client.get(area).status_code == 404
    do_assign_area(user, COMMUNITY_A, "community_staff", actor=make_superuser())
    assert client.get(area).status_code == 200
    role = Role.objects.get(slug="community_staff")
    role.actions = [action for action in role.actions if action != VIEW_AREA]
    role.save()
    assert client.get(area).status_code == 404
